import "server-only";

import { createPublicClient, formatEther, getAddress, http } from "viem";
import { base, mainnet, sepolia } from "viem/chains";

import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";
import { getErrorMessage } from "@/lib/utils";
import { requireAddress, resolveRpcUrl, StepInputError } from "@/lib/validation";

// The same balance read as web3/check-balance, with viem (fetch-based transport) instead of ethers.

const CHAINS = { mainnet, sepolia, base } as const;

export type CheckBalanceViemInput = StepInput & {
  network?: keyof typeof CHAINS;
  address: string;
  rpcUrl?: string;
};

type CheckBalanceViemResult =
  | { success: true; address: string; balance: string; balanceWei: string; chainId: number }
  | { success: false; error: string };

async function stepHandler(input: CheckBalanceViemInput): Promise<CheckBalanceViemResult> {
  let address: `0x${string}`;
  let rpcUrl: string;
  let chain: (typeof CHAINS)[keyof typeof CHAINS];
  try {
    address = getAddress(requireAddress(input.address, "address"));
    rpcUrl = resolveRpcUrl(input);
    const network = input.network ?? "mainnet";
    if (!(network in CHAINS)) throw new StepInputError(`unsupported network ${network}`);
    chain = CHAINS[network];
  } catch (error) {
    return { success: false, error: getErrorMessage(error) };
  }
  const client = createPublicClient({ chain, transport: http(rpcUrl, { retryCount: 0, timeout: 10_000 }) });
  try {
    const balance = await client.getBalance({ address });
    return {
      success: true,
      address,
      balance: formatEther(balance),
      balanceWei: balance.toString(),
      chainId: chain.id,
    };
  } catch (error) {
    return { success: false, error: `Failed to check balance on ${chain.name}: ${getErrorMessage(error)}` };
  }
}

export async function checkBalanceViemStep(input: CheckBalanceViemInput): Promise<CheckBalanceViemResult> {
  "use step";
  return withStepLogging(input, () => stepHandler(input));
}
checkBalanceViemStep.maxRetries = 0;

export const _integrationType = "web3";
