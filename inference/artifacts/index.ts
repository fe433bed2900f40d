export { ArtifactCache, type ArtifactCacheOptions, type ArtifactRequest, type HeldArtifact } from "./cache.ts";
export { ArtifactError, ArtifactHashMismatchError } from "./errors.ts";
export {
  artifactHashOfBytes,
  artifactKindOf,
  hashArtifactDir,
  LORA_FILES,
  MANIFEST_FILE,
  TRAINING_MANIFEST_FILE,
  type ArtifactFile,
  type ArtifactKind,
} from "./hash.ts";
export {
  loraMismatch,
  parseLoraConfig,
  PEFT_TARGETS,
  readLoraConfig,
  TARGET_MODULES,
  targetMask,
  targetNames,
  type LoraTerms,
} from "./lora.ts";
export { decodeManifest, encodeManifest, MANIFEST_FORMAT, type ArtifactManifest } from "./manifest.ts";
export { artifactCacheSettings, openArtifactCache, type ArtifactCacheSettings } from "./settings.ts";
export { locateArtifact, STORE_SCHEME, type ArtifactSourceOptions } from "./sources.ts";
