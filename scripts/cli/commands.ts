/**
 * The `openpoa` commands, by group: each takes the connected suite and its parsed arguments and returns what to
 * print, as text for people and as data for `--json`.
 */
import { channelCommands } from "./commands/channel.ts";
import { datanetCommands } from "./commands/datanet.ts";
import { epochCommands } from "./commands/epoch.ts";
import { govCommands } from "./commands/gov.ts";
import { modelCommands } from "./commands/model.ts";
import { nodeCommands } from "./commands/node.ts";
import { rewardsCommands } from "./commands/rewards.ts";
import { tokenCommands } from "./commands/token.ts";
import { trainCommands } from "./commands/train.ts";
import type { Command } from "./shared.ts";

export type { Command, Output, Values } from "./shared.ts";

export const commands: Record<string, Command> = {
  ...tokenCommands,
  ...datanetCommands,
  ...modelCommands,
  ...trainCommands,
  ...nodeCommands,
  ...channelCommands,
  ...rewardsCommands,
  ...epochCommands,
  ...govCommands,
};
