import "server-only";

import { ethers } from "ethers";

import { fetchCredentials } from "@/lib/credential-fetcher";
import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";
import { getErrorMessage } from "@/lib/utils";
import { requireAddress, requireString, resolveRpcUrl, StepInputError } from "@/lib/validation";

// A step makes a handful of calls once: ethers' 250 ms request cache buys nothing here, and its expiry
// timers would fire (or not) depending on how long the step ran.
const PROVIDER_OPTIONS = { cacheTimeout: -1 };

// Native-token transfer signed by an ethers Wallet: nonce, gas estimate, fee data, sign, broadcast,
// wait for one confirmation. Signing (secp256k1 + keccak) is what makes this the heaviest sample step.

export type TransferFundsInput = StepInput & {
  network?: string;
  recipientAddress: string;
  amount: string; // in ether, e.g. "0.01"
  rpcUrl?: string;
  confirmationTimeoutMs?: number;
};

type TransferFundsResult =
  | { success: true; transactionHash: string; blockNumber: number; gasUsed: string }
  | { success: false; error: string };

const MAX_AMOUNT = ethers.parseEther("1000");

function parseAmount(amount: unknown): bigint {
  const text = requireString(amount, "amount", { maxLength: 40 });
  let wei: bigint;
  try {
    wei = ethers.parseEther(text);
  } catch {
    throw new StepInputError(`amount "${text}" is not a decimal ether amount`);
  }
  if (wei <= 0n) throw new StepInputError("amount must be greater than zero");
  if (wei > MAX_AMOUNT) throw new StepInputError("amount exceeds the per-step limit of 1000");
  return wei;
}

async function stepHandler(
  input: TransferFundsInput,
  credentials: Record<string, string | undefined>,
): Promise<TransferFundsResult> {
  const privateKey = credentials.WALLET_PRIVATE_KEY;
  if (!privateKey) return { success: false, error: "No wallet is configured for this organization" };
  let to: string;
  let value: bigint;
  let rpcUrl: string;
  try {
    to = requireAddress(input.recipientAddress, "recipientAddress");
    value = parseAmount(input.amount);
    rpcUrl = resolveRpcUrl(input);
  } catch (error) {
    return { success: false, error: getErrorMessage(error) };
  }
  const provider = new ethers.JsonRpcProvider(rpcUrl, undefined, PROVIDER_OPTIONS);
  try {
    const wallet = new ethers.Wallet(privateKey, provider);
    const balance = await provider.getBalance(wallet.address);
    if (balance < value) {
      return { success: false, error: `Insufficient balance: ${ethers.formatEther(balance)} < ${ethers.formatEther(value)}` };
    }
    const tx = await wallet.sendTransaction({ to, value });
    console.info(`[web3] sent ${tx.hash} on ${input.network ?? "network"}`);
    const receipt = await tx.wait(1, input.confirmationTimeoutMs ?? 60_000);
    if (!receipt) return { success: false, error: `Transaction ${tx.hash} was not mined` };
    if (receipt.status !== 1) return { success: false, error: `Transaction ${tx.hash} reverted` };
    return {
      success: true,
      transactionHash: receipt.hash,
      blockNumber: receipt.blockNumber,
      gasUsed: receipt.gasUsed.toString(),
    };
  } catch (error) {
    return { success: false, error: `Transfer failed: ${getErrorMessage(error)}` };
  } finally {
    provider.destroy();
  }
}

export async function transferFundsStep(input: TransferFundsInput): Promise<TransferFundsResult> {
  "use step";
  const credentials = input.integrationId ? await fetchCredentials(input.integrationId) : {};
  return withStepLogging(input, () => stepHandler(input, credentials));
}
transferFundsStep.maxRetries = 0;

export const _integrationType = "web3";
