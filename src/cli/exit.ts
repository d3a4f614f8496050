/** How a command ends: its exit code, and what to tell the user. */
export const EXIT = { failed: 1, usage: 2 } as const;

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  stdin: NodeJS.ReadStream;
}

/** Ends the command with an exit code; an empty message means the output already said why. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
export const usage = (message: string) => new CliError(message, EXIT.usage);
