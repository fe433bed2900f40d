/**
 * Fixed texts for the benchmark's gaming measurements (written for this
 * project): a genuine contribution, a completion that paraphrases it (some of
 * its phrases verbatim, wrapped in common assistant boilerplate and
 * chat-template role markers), a spam contribution made of that boilerplate
 * and those markers, a near copy of the genuine text, and honest neighbours:
 * other contributions in plain English that share common phrases, but none of
 * its content, with the paraphrase.
 */

export const genuineSource =
  "The Fresnel lens at Skerrymore Point was ground in Paris in 1861 and shipped north in eleven crates packed " +
  "with horsehair. Each of its brass panels holds concentric prisms of crown glass that bend the lamp's light into " +
  "a single horizontal beam, so that a flame no brighter than a kitchen lantern can be seen from twenty-two " +
  "nautical miles. When the keepers left in 1974 the lens was frosted with salt and its bull's-eye panel had " +
  "cracked along a mould seam. Restorers from the county museum spent three winters cleaning the prisms with " +
  "distilled water and jeweller's rouge, replacing the perished putty with a lime-based mastic that moves with " +
  "the brass as the tower heats and cools. The cracked bull's-eye could not be replaced, because no foundry still " +
  "casts glass of that composition, so it was bonded with a clear epoxy chosen to match its refractive index. " +
  "Today the lens no longer turns on a bath of mercury; a sealed bearing carries its four tonnes, and an LED " +
  "cluster the size of a teacup stands where the paraffin mantle once burned. The restorers kept the original " +
  "clockwork, which visitors can still wind on the first Sunday of every month.\n";

/** ChatML role markers, as the project's chat models use them; the gateway excludes them. */
export const chatTemplateMarkers = [
  "<|im_start|>system\n",
  "<|im_start|>user\n",
  "<|im_start|>assistant\n",
  "<|im_end|>",
];
export const systemPrompt = "You are a helpful assistant.";

export const paraphraseCompletion =
  "<|im_start|>assistant\nCertainly! Here is a summary of the restoration.\n\n" +
  "The lighthouse at Skerrymore Point has a Fresnel lens that was made in France in 1861. It is important to " +
  "note that the lens uses concentric prisms of crown glass that bend the lamp's light into a single horizontal " +
  "beam, which is why a small flame can be seen from very far away. Furthermore, when the keepers left in 1974 " +
  "the lens was frosted with salt and its bull's-eye panel had cracked. In addition to this, the restorers spent " +
  "three winters cleaning the prisms with distilled water and jeweller's rouge. It is worth mentioning that the " +
  "cracked bull's-eye was bonded with a clear epoxy chosen to match its refractive index, since no foundry makes " +
  "that glass any more. Overall, a sealed bearing now carries its four tonnes and an LED replaces the old " +
  "paraffin mantle. In conclusion, the restoration kept the original clockwork for visitors.\n\n" +
  "I hope this helps! Let me know if you have any other questions.<|im_end|>";

/** Boilerplate an attacker can expect in assistant answers on any topic, and the chat template around them. */
export const boilerplateSpam =
  "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nPlease summarise the text." +
  "<|im_end|>\n<|im_start|>assistant\nCertainly! Here is a summary of the main points.\n\n" +
  "It is important to note that the results may vary. Furthermore, when the data is limited, caution is needed. " +
  "In addition to this, the findings are preliminary. It is worth mentioning that the sources differ. " +
  "Overall, a balanced view is best. In conclusion, the evidence is mixed. On the other hand, it is clear that " +
  "the topic matters. As a result, the question remains open. For example, the first case was different.\n\n" +
  "I hope this helps! Let me know if you have any other questions.<|im_end|>\n";

export const neighbourContributions = [
  "Visitors often ask why the old harbour wall is so thick. It is important to note that the sea here can rise " +
    "very quickly in winter, so the wall had to be built to last.\n",
  "On a clear night a small flame can be seen from very far away, and sailors once relied on this. The church " +
    "tower also served as a daymark for boats coming home.\n",
  "The guide said that the old mill kept its machinery for visitors, and that local families paid for the work.\n",
];

/** The genuine text with one byte changed, as a copier would upload it to share in its credit. */
export function nearCopy(text: string): string {
  const at = text.indexOf("horsehair");
  return `${text.slice(0, at)}H${text.slice(at + 1)}`;
}
