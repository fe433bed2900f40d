import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { zeroAddress } from "viem";
import { createDatanetSchema, type CreateDatanetForm } from "./createDatanet.ts";

const form = (fields: Partial<CreateDatanetForm> = {}): CreateDatanetForm => ({
  metadataURI: "openpoa://datanets/recipes",
  license: "",
  curated: false,
  minStake: "",
  treasury: "",
  curators: "",
  ...fields,
});
const messages = (fields: Partial<CreateDatanetForm>) =>
  createDatanetSchema.safeParse(form(fields)).error?.issues.map((issue) => issue.message);

describe("createDatanetSchema", () => {
  it("test_createDatanetSchema_defaultsToAnOpenDatanetTheCreatorTreasures", () => {
    assert.deepEqual(createDatanetSchema.parse(form({ metadataURI: "  openpoa://datanets/recipes " })), {
      metadataURI: "openpoa://datanets/recipes",
      license: "",
      curated: false,
      minStake: 0n,
      treasury: zeroAddress,
      curators: [],
    });
  });

  it("test_createDatanetSchema_checksumsAddressesAndListsEachCuratorOnce", () => {
    const parsed = createDatanetSchema.parse(
      form({
        curated: true,
        minStake: "2.5",
        license: " CC-BY-4.0 ",
        treasury: "0x00000000000000000000000000000000000000ab",
        curators:
          "0x00000000000000000000000000000000000000c1,\n0x00000000000000000000000000000000000000C1 0x00000000000000000000000000000000000000d2",
      }),
    );
    assert.equal(parsed.minStake, 2_500_000_000_000_000_000n);
    assert.equal(parsed.license, "CC-BY-4.0");
    assert.equal(parsed.treasury, "0x00000000000000000000000000000000000000AB");
    assert.deepEqual(parsed.curators, [
      "0x00000000000000000000000000000000000000C1",
      "0x00000000000000000000000000000000000000D2",
    ]);
  });

  it("test_createDatanetSchema_refusesWhatTheRegistryWouldOrATypoWouldMake", () => {
    assert.deepEqual(messages({ metadataURI: "   " }), ["Give the datanet a metadata URI: where its description is."]);
    assert.deepEqual(messages({ treasury: "0x1234" }), ["The treasury “0x1234” is not an address."]);
    assert.deepEqual(messages({ curators: "0x00000000000000000000000000000000000000c1 bob" }), [
      "The curator “bob” is not an address.",
    ]);
    assert.match(messages({ minStake: "1,5" })![0]!, /1,5/);
    assert.deepEqual(messages({ minStake: (2n ** 128n).toString() }), [
      "The minimum stake is more than the registry can hold.",
    ]);
  });
});
