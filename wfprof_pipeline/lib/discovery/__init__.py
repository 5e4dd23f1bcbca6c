"""What a platform checkout already declares about its steps, read statically (nothing is executed):
tsconfig path aliases, plugin manifests, each step file's `…Step` export and its `-core` helpers."""
