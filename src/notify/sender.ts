/** Where rendered messages go: Slack's Web API, or the log when no bot token is configured. */
import { LogLevel, WebClient, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from 'pino';
import type { SlackMessage } from './messages.js';

export interface Posted {
  channel: string;
  ts: string;
}

export interface Sender {
  post(message: SlackMessage): Promise<Posted | undefined>;
  update(target: Posted, message: SlackMessage): Promise<void>;
}

export interface SlackSettings {
  botToken?: string;
  channel: string;
  apiUrl?: string;
}

export function createSender(slack: SlackSettings, logger: Logger): Sender {
  return slack.botToken ? new SlackSender(slack.botToken, slack.channel, slack.apiUrl, logger) : new LogSender(logger);
}

export class SlackSender implements Sender {
  private readonly client: WebClient;

  constructor(
    token: string,
    private readonly channel: string,
    apiUrl: string | undefined,
    logger: Logger,
  ) {
    this.client = new WebClient(token, {
      // WebClient joins the method name straight onto the base URL.
      ...(apiUrl ? { slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/` } : {}),
      // BullMQ owns retries (attempts, backoff, Retry-After) so a failed send stays visible as a job.
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 10_000,
      logger: slackLogger(logger),
    });
  }

  async post(message: SlackMessage): Promise<Posted> {
    const res = await this.client.chat.postMessage({ channel: this.channel, text: message.text, blocks: message.blocks });
    return { channel: res.channel ?? this.channel, ts: res.ts ?? '' };
  }

  async update(target: Posted, message: SlackMessage): Promise<void> {
    await this.client.chat.update({ channel: target.channel, ts: target.ts, text: message.text, blocks: message.blocks });
  }
}

/** Without SLACK_BOT_TOKEN the notice still reaches someone reading the logs, and nothing fails. */
export class LogSender implements Sender {
  constructor(private readonly logger: Logger) {}

  async post(message: SlackMessage): Promise<undefined> {
    this.logger.info({ notification: message.text }, 'notification (SLACK_BOT_TOKEN not set, logged instead of posted)');
    return undefined;
  }

  async update(target: Posted, message: SlackMessage): Promise<void> {
    this.logger.info({ notification: message.text, ts: target.ts }, 'notification update (SLACK_BOT_TOKEN not set)');
  }
}

function slackLogger(logger: Logger): SlackLogger {
  const child = logger.child({ component: 'slack-web-api' });
  return {
    debug: (...msg: unknown[]) => child.debug(msg.map(String).join(' ')),
    info: (...msg: unknown[]) => child.info(msg.map(String).join(' ')),
    warn: (...msg: unknown[]) => child.warn(msg.map(String).join(' ')),
    error: (...msg: unknown[]) => child.error(msg.map(String).join(' ')),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}
