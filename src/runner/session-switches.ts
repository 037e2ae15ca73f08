/** What tells the agent that its transport moved to a new session (AutoTransport has it). */
export interface SessionSwitches {
  onSwitch(listener: () => void): void;
  /**
   * The session was lost; onSwitch tells when the next one is up. `goingAway`: the server said it is
   * shutting down.
   */
  onLost(listener: (loss: { readonly goingAway: boolean }) => void): void;
  /** A round of reconnect attempts reached no server. */
  onUnreachable?(listener: () => void): void;
  /** While `ceilingMs()` gives a number, reconnect attempts are at most that far apart. */
  capRetryDelay?(ceilingMs: () => number | undefined): void;
  /** Undefined while no session is up: what is sent then is held, and goes first to the next one. */
  readonly kind: string | undefined;
  /**
   * When the server was last heard from on the current session (a message, a keep-alive answer, a
   * poll answered); while none is up, on the one that was lost. By the agent's clock.
   */
  readonly heardAt: number | undefined;
}
