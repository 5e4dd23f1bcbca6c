export async function x() {
  return 1;
}
