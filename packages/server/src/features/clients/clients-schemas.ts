import { Type } from '@sinclair/typebox';
import { ADMIN_SECURITY, errors, StringEnum } from '../../schemas/common.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const ConnectedClient = Type.Object(
  {
    replica: Type.String({ description: 'The replica the client is connected to' }),
    kind: StringEnum(['sdk', 'ofrep', 'unleash'], {
      description:
        'sdk: client stream (RuntimeControlProvider); ofrep: OFREP caller (SSE stream or polling evaluations); unleash: Unleash bridge stream',
    }),
    transport: StringEnum(['stream', 'polling'], {
      description:
        'stream: an open SSE stream; polling: OFREP evaluations without a stream, listed while seen within the last 5 minutes',
    }),
    app: Nullable(Type.String({ description: 'X-RC-App (the SDK sends its appName)' })),
    instance: Nullable(Type.String({ description: 'X-RC-Instance (the SDK sends host and pid)' })),
    agent: Nullable(Type.String({ description: 'User-Agent: the SDK and its version, or any OFREP client' })),
    environment: Type.String(),
    token: Type.Object({
      id: Nullable(Type.String()),
      name: Nullable(Type.String({ description: 'null when the token is no longer known' })),
    }),
    connectedSince: Type.String({ description: 'ISO time the stream opened (polling: first seen)' }),
    lastSeen: Nullable(Type.String({ description: 'Polling: ISO time of its last evaluation (null for a stream)' })),
    lastRevision: Type.Union([Type.Integer(), Type.Null()], {
      description:
        'The last revision of its environment this stream was sent, or its last evaluation was computed from (null for the Unleash bridge)',
    }),
    environmentRevision: Type.Union([Type.Integer(), Type.Null()], {
      description: 'The environment revision the reporting replica serves',
    }),
    upToDate: Type.Union([Type.Boolean(), Type.Null()], {
      description: 'lastRevision ≥ the revision the environment is at now (null for the Unleash bridge)',
    }),
  },
  { $id: 'ConnectedClient' },
);

export const ReplicaReport = Type.Object({
  id: Type.String(),
  self: Type.Boolean({ description: 'The replica that answered (its clients are listed live)' }),
  reportedAt: Type.String({
    description: 'When the report was made (other replicas report every RC_PRESENCE_INTERVAL_MS)',
  }),
  connections: Type.Integer(),
  truncated: Type.Integer({
    description:
      'Clients left out of the report: streams and polling callers over the per-replica caps, plus the calls of polling callers turned away while the tracker was full in the last minute',
  }),
});

export const clientsSchemas = {
  list: {
    summary:
      'Who is connected: every stream and polling OFREP caller on every replica (app, instance, SDK, environment, token, revision)',
    security: ADMIN_SECURITY,
    querystring: Type.Object(
      {
        environment: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        app: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
      },
      { additionalProperties: false },
    ),
    response: {
      200: Type.Object(
        {
          clients: Type.Array(ConnectedClient),
          replicas: Type.Array(ReplicaReport),
        },
        { description: 'Clients, newest connection first' },
      ),
      ...errors(400, 401, 403),
    },
  },
};
