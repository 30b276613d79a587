import { ConfigError } from '../errors.js';
import { FileSink } from './file.js';
import { HttpsSink, type HttpsSinkOptions } from './https.js';
import { S3Sink, type S3SinkOptions } from './s3.js';
import type { Sink } from './types.js';
import { parseSinkUrl } from './url.js';

export { SinkRejectedError, SinkUnavailableError } from './errors.js';
export { FileSink } from './file.js';
export { HttpsSink, type HttpsSinkOptions } from './https.js';
export { S3Sink, type S3SinkOptions } from './s3.js';
export * from './types.js';
export { parseSinkUrl, sinkTarget, sinkUrlProblem, type SinkLocation } from './url.js';

export interface OpenSinkOptions {
  https?: HttpsSinkOptions;
  s3?: S3SinkOptions;
}

/** The sink a URL names (GRADESTREAM_SINK_URL or a schedule's `sink`); a bad URL is a ConfigError. */
export function openSink(url: string, options: OpenSinkOptions = {}): Sink {
  const location = parseSinkUrl(url);
  if ('problem' in location) throw new ConfigError([`sink URL: ${location.problem}`]);
  switch (location.kind) {
    case 'file':
      return new FileSink(location.dir);
    case 's3':
      return new S3Sink(location.bucket, location.prefix, options.s3);
    case 'https':
      return new HttpsSink(location.url, options.https);
  }
}
