import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { FileSink, HttpsSink, openSink, S3Sink, sinkUrlProblem } from '../../src/sinks/index.js';

describe('openSink', () => {
  it('opens each kind of sink URL', () => {
    const file = openSink('file:./var/outbox');
    expect(file).toBeInstanceOf(FileSink);
    expect(file.target).toBe(`file:${resolve('var/outbox')}`);
    expect(openSink('file:///srv/outbox').target).toBe('file:/srv/outbox');
    const s3 = openSink('s3://grades-bucket/sis/outbox/');
    expect(s3).toBeInstanceOf(S3Sink);
    expect(s3.target).toBe('s3://grades-bucket/sis/outbox');
    const https = openSink('https://user:secret@sis.example.edu/grades');
    expect(https).toBeInstanceOf(HttpsSink);
    expect(https.target).toBe('https://sis.example.edu/grades');
    expect(openSink('http://127.0.0.1:9000/in')).toBeInstanceOf(HttpsSink);
  });

  it('refuses what is not a sink URL', () => {
    expect(() => openSink('ftp://sis.example.edu/')).toThrow(ConfigError);
    expect(sinkUrlProblem('http://sis.example.edu/in')).toMatch(/only to localhost/);
    expect(sinkUrlProblem('file:')).toMatch(/needs a directory/);
    expect(sinkUrlProblem('s3://No_Such')).toMatch(/not an S3 bucket name/);
    expect(sinkUrlProblem('./outbox')).toMatch(/expected file:DIR/);
    expect(sinkUrlProblem('https://sis.example.edu/in')).toBeNull();
  });
});
