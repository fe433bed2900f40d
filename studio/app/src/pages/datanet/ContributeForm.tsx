/**
 * Contribute a file: it is uploaded to the content store (the wallet signs the store's write message), OPEN is
 * approved for the stake when the allowance is short, then the contribution is committed and revealed.
 */
import { useState } from "react";
import { parseEventLogs, type Address } from "viem";
import { useConfig, useConnection, useReadContract } from "wagmi";
import { readContract } from "wagmi/actions";
import { z } from "zod/v4";
import { Amount } from "../../components/Amount.tsx";
import { TxButton, type TxRunner } from "../../components/TxButton.tsx";
import { abis, contractOf } from "../../contracts.ts";
import { openText } from "../../lib/amounts.ts";
import { formatOpen } from "../../lib/format.ts";
import { uploadToStore } from "../../lib/store.ts";
import { useStudio } from "../../studio.tsx";
import type { DatanetFacts } from "../Datanet.tsx";

/** The store's default size limit for contributions (store/limits.ts); a larger file would be refused there. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** The form's values checked: a non-empty file under the limit, a stake of at least the minimum that the account holds. */
export function contributionSchema({ minStake, balance }: { minStake: bigint; balance: bigint }) {
  return z.object({
    file: z
      .instanceof(File, { message: "Choose a text file to contribute." })
      .refine((f) => f.size > 0, "The file is empty.")
      .refine((f) => f.size <= MAX_FILE_BYTES, `The file is over ${MAX_FILE_BYTES / 1024 / 1024} MiB.`),
    stake: openText()
      .refine((stake) => stake >= minStake, `The stake must be at least ${formatOpen(minStake)}.`)
      .refine((stake) => stake <= balance, `The stake is more than your balance (${formatOpen(balance)}).`),
  });
}

async function contribute(
  tx: TxRunner,
  {
    file,
    stake,
    datanetId,
    contentUrl,
    registry,
    token,
    allowance,
  }: {
    file: File;
    stake: bigint;
    datanetId: bigint;
    contentUrl: string;
    registry: ReturnType<typeof contractOf>;
    token: ReturnType<typeof contractOf>;
    allowance: () => Promise<bigint>;
  },
) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const uploaded = await uploadToStore(contentUrl, {
    bytes,
    signer: { address: tx.account, signMessage: (message) => tx.sign("Sign the upload to the content store", message) },
  });
  if ((await allowance()) < stake)
    await tx.write("Approve the stake", { ...token, functionName: "approve", args: [registry.address, stake] });
  const receipt = await tx.writeRevealing("Contribute", {
    ...registry,
    functionName: "contribute",
    hash: uploaded.contentHash,
    // The byte-level tokenizer of the models: one token per byte (as the CLI declares it).
    args: [datanetId, uploaded.contentHash, uploaded.uri, BigInt(bytes.length), stake],
  });
  const [submitted] = parseEventLogs({
    abi: abis.DatanetRegistry,
    logs: receipt.logs,
    eventName: "ContributionSubmitted",
  }) as unknown as { args: { contributionId: bigint } }[];
  return { contributionId: submitted!.args.contributionId, contentHash: uploaded.contentHash };
}

export function ContributeForm({ datanet }: { datanet: DatanetFacts }) {
  const { config } = useStudio();
  const wagmi = useConfig();
  const { address } = useConnection();
  const registry = contractOf(config, "DatanetRegistry");
  const token = contractOf(config, "OpenToken");
  const [file, setFile] = useState<File | undefined>();
  const [stake, setStake] = useState(formatOpen(BigInt(datanet.minStake), { decimals: 18, unit: false }));
  const balance = useReadContract({ ...token, functionName: "balanceOf", args: address ? [address] : undefined });
  const allowanceOf = (owner: Address) =>
    readContract(wagmi, { ...token, functionName: "allowance", args: [owner, registry.address] }) as Promise<bigint>;
  const allowance = useReadContract({
    ...token,
    functionName: "allowance",
    args: address ? [address, registry.address] : undefined,
  });
  const schema = contributionSchema({
    minStake: BigInt(datanet.minStake),
    balance: (balance.data as bigint | undefined) ?? 0n,
  });
  const parsed = schema.safeParse({ file, stake });
  const needsApproval = parsed.success && ((allowance.data as bigint | undefined) ?? 0n) < parsed.data.stake;
  return (
    <>
      <h2>Contribute</h2>
      <p className="muted">
        Your file is stored in the content store under its sha256, then registered on chain with your stake. Your wallet
        confirms {needsApproval ? 4 : 3} times: the upload's signature,{needsApproval ? " the stake's approval," : ""}{" "}
        and the contribution (step 1 of 2: a commitment; step 2 of 2: the reveal, in a later block).
      </p>
      <div className="form">
        <label>
          Text file
          <input type="file" accept=".txt,.md,text/plain" onChange={(event) => setFile(event.target.files?.[0])} />
        </label>
        <label>
          Stake (OPEN)
          <input inputMode="decimal" value={stake} onChange={(event) => setStake(event.target.value)} />
        </label>
        <p className="muted">
          Balance: <Amount wei={balance.data as bigint | undefined} />
        </p>
      </div>
      <TxButton
        label="Contribute"
        steps={needsApproval ? 4 : 3}
        validate={() => (parsed.success ? undefined : parsed.error.issues[0]!.message)}
        action={(tx) =>
          contribute(tx, {
            file: parsed.data!.file,
            stake: parsed.data!.stake,
            datanetId: BigInt(datanet.id),
            contentUrl: config.contentUrl,
            registry,
            token,
            allowance: () => allowanceOf(tx.account),
          })
        }
        done={({ contributionId }) =>
          `Contribution ${contributionId} submitted${datanet.curated ? ": it waits for a curator." : " and accepted."}`
        }
      />
    </>
  );
}
