/**
 * Create a datanet: its metadata URI and licence, whether contributions wait for a curator, the minimum stake, the
 * treasury that receives slashed stakes and the curators besides the creator (lib/createDatanet.ts checks them
 * before the wallet is asked); one wallet confirmation. The creator owns it: curates, publishes versions.
 */
import { useState } from "react";
import { parseEventLogs } from "viem";
import { Link } from "wouter";
import { TxButton } from "../../components/TxButton.tsx";
import { abis, contractOf } from "../../contracts.ts";
import { createDatanetSchema, type CreateDatanetForm as Fields } from "../../lib/createDatanet.ts";
import { useStudio } from "../../studio.tsx";

const blank: Fields = { metadataURI: "", license: "", curated: true, minStake: "", treasury: "", curators: "" };

export function CreateDatanetForm() {
  const { config } = useStudio();
  const registry = contractOf(config, "DatanetRegistry");
  const [fields, setFields] = useState<Fields>(blank);
  const parsed = createDatanetSchema.safeParse(fields);
  const text = (name: Exclude<keyof Fields, "curated">) => ({
    value: fields[name],
    onChange: (event: { target: { value: string } }) => setFields({ ...fields, [name]: event.target.value }),
  });
  return (
    <>
      <div className="form">
        <label>
          Metadata URI
          <input {...text("metadataURI")} placeholder="ipfs://… or https://…" />
        </label>
        <label>
          Licence of the contributions
          <input {...text("license")} placeholder="e.g. CC-BY-4.0" />
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={fields.curated}
            onChange={(event) => setFields({ ...fields, curated: event.target.checked })}
          />
          Curated: contributions wait for a curator, who accepts them with a weight or rejects them (their stake goes to
          the treasury). Otherwise every contribution is accepted at once with weight 1.
        </label>
        <label>
          Minimum stake (OPEN)
          <input inputMode="decimal" {...text("minStake")} placeholder="0" />
        </label>
        <label>
          Treasury (receives slashed stakes; blank: you)
          <input {...text("treasury")} placeholder="0x…" />
        </label>
        <label>
          Curators besides you (addresses, separated by commas or new lines)
          <textarea rows={2} {...text("curators")} />
        </label>
      </div>
      <TxButton
        label="Create the datanet"
        steps={1}
        validate={() => (parsed.success ? undefined : parsed.error.issues[0]!.message)}
        action={async (tx) => {
          const receipt = await tx.write("Create the datanet", {
            ...registry,
            functionName: "createDatanet",
            args: [parsed.data!],
          });
          const [created] = parseEventLogs({
            abi: abis.DatanetRegistry,
            logs: receipt.logs,
            eventName: "DatanetCreated",
          }) as unknown as { args: { datanetId: bigint } }[];
          setFields(blank);
          return created!.args.datanetId;
        }}
        done={(datanetId) => (
          <>
            Created: <Link href={`/datanets/${datanetId}`}>Datanet {datanetId.toString()}</Link>.
          </>
        )}
      />
    </>
  );
}
