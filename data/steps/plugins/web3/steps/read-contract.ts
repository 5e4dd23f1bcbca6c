import "server-only";

import { Contract, ethers } from "ethers";

import { type StepInput, withStepLogging } from "@/lib/steps/step-handler";
import { getErrorMessage } from "@/lib/utils";
import { requireAddress, resolveRpcUrl } from "@/lib/validation";

// A step makes a handful of calls once: ethers' 250 ms request cache buys nothing here, and its expiry
// timers would fire (or not) depending on how long the step ran.
const PROVIDER_OPTIONS = { cacheTimeout: -1 };

// ERC-20 token balance: three eth_calls (balanceOf, decimals, symbol) through an ethers Contract.

const ERC20_ABI = [
  "function balanceOf(address owner) view returns (uint256)",
  "function decimals() view returns (uint8)",
  "function symbol() view returns (string)",
];

export type ReadTokenBalanceInput = StepInput & {
  network?: string;
  tokenAddress: string;
  ownerAddress: string;
  rpcUrl?: string;
};

type ReadTokenBalanceResult =
  | { success: true; symbol: string; decimals: number; balance: string; raw: string }
  | { success: false; error: string };

async function stepHandler(input: ReadTokenBalanceInput): Promise<ReadTokenBalanceResult> {
  let token: string;
  let owner: string;
  let rpcUrl: string;
  try {
    token = requireAddress(input.tokenAddress, "tokenAddress");
    owner = requireAddress(input.ownerAddress, "ownerAddress");
    rpcUrl = resolveRpcUrl(input);
  } catch (error) {
    return { success: false, error: getErrorMessage(error) };
  }
  const provider = new ethers.JsonRpcProvider(rpcUrl, undefined, PROVIDER_OPTIONS);
  try {
    const contract = new Contract(token, ERC20_ABI, provider);
    const [raw, decimals, symbol] = await Promise.all([
      contract.balanceOf(owner) as Promise<bigint>,
      contract.decimals() as Promise<bigint>,
      contract.symbol() as Promise<string>,
    ]);
    return {
      success: true,
      symbol,
      decimals: Number(decimals),
      balance: ethers.formatUnits(raw, decimals),
      raw: raw.toString(),
    };
  } catch (error) {
    return { success: false, error: `Failed to read token balance: ${getErrorMessage(error)}` };
  } finally {
    provider.destroy();
  }
}

export async function readTokenBalanceStep(input: ReadTokenBalanceInput): Promise<ReadTokenBalanceResult> {
  "use step";
  return withStepLogging(input, () => stepHandler(input));
}
readTokenBalanceStep.maxRetries = 0;

export const _integrationType = "web3";
