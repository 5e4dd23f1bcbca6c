import "server-only";

import { ethers } from "ethers";

import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";
import { getErrorMessage } from "@/lib/utils";
import { requireAddress, resolveRpcUrl } from "@/lib/validation";

// A step makes a handful of calls once: ethers' 250 ms request cache buys nothing here, and its expiry
// timers would fire (or not) depending on how long the step ran.
const PROVIDER_OPTIONS = { cacheTimeout: -1 };

// Native-token balance of an address, read with ethers v6 over JSON-RPC (node:http/https).

export type CheckBalanceInput = StepInput & {
  network?: string;
  address: string;
  rpcUrl?: string;
};

type CheckBalanceResult =
  | { success: true; address: string; balance: string; balanceWei: string; chainId: string }
  | { success: false; error: string };

async function stepHandler(input: CheckBalanceInput): Promise<CheckBalanceResult> {
  let address: string;
  let rpcUrl: string;
  try {
    address = requireAddress(input.address, "address");
    rpcUrl = resolveRpcUrl(input);
  } catch (error) {
    return { success: false, error: getErrorMessage(error) };
  }
  // ethers retries network detection forever on a dead endpoint: bound the step and always destroy.
  const provider = new ethers.JsonRpcProvider(rpcUrl, undefined, PROVIDER_OPTIONS);
  try {
    const [balance, network] = await Promise.all([provider.getBalance(address), provider.getNetwork()]);
    return {
      success: true,
      address: ethers.getAddress(address),
      balance: ethers.formatEther(balance),
      balanceWei: balance.toString(),
      chainId: network.chainId.toString(),
    };
  } catch (error) {
    return { success: false, error: `Failed to check balance on ${input.network ?? "network"}: ${getErrorMessage(error)}` };
  } finally {
    provider.destroy();
  }
}

export async function checkBalanceStep(input: CheckBalanceInput): Promise<CheckBalanceResult> {
  "use step";
  return withStepLogging(input, () => stepHandler(input));
}
checkBalanceStep.maxRetries = 0;

export const _integrationType = "web3";
