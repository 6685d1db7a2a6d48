// The test page: every case runs in Chromium with the real npm client packages and returns what it saw.
// The driver (driver.mjs) calls window.wsgrpcCases.list(suite) and window.wsgrpcCases.run(suite, name, target).
import { createClient, ConnectError, Code, encodeBinaryHeader, decodeBinaryHeader } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { Echo } from "../gen/wsgrpc/echo_pb.js";
import { Numbers } from "../gen/wsgrpc/kinds_pb.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

function grpcWeb(target, service = Echo) {
  return createClient(service, createGrpcWebTransport({ baseUrl: target, useBinaryFormat: true }));
}

/** Runs `call` and returns the ConnectError it must fail with. */
async function failure(call) {
  try {
    await call();
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail but it succeeded");
}

function expectCode(error, code, messagePart) {
  check(error.code === code, `expected code ${Code[code]} but was ${Code[error.code]} (${error.rawMessage})`);
  if (messagePart !== undefined) {
    check(error.rawMessage.includes(messagePart),
      `expected a message containing '${messagePart}' but was '${error.rawMessage}'`);
  }
  return `${Code[error.code]}: ${error.rawMessage}`;
}

async function collect(stream) {
  const out = [];
  for await (const message of stream) {
    out.push(message);
  }
  return out;
}

const grpcWebCases = {
  async unary(target) {
    const response = await grpcWeb(target).unary({ payload: encoder.encode("hello from Chromium") });
    check(decoder.decode(response.payload) === "hello from Chromium", "payload not echoed");
    return "echoed";
  },

  async metadataBothWays(target) {
    let headers;
    let trailers;
    await grpcWeb(target).unary({ payload: encoder.encode("m") }, {
      headers: { "x-echo-initial": "first", "x-echo-trailing-bin": encodeBinaryHeader(new Uint8Array([0, 1, 254, 255])) },
      onHeader: (h) => { headers = h; },
      onTrailer: (t) => { trailers = t; },
    });
    check(headers.get("x-echo-initial") === "first", `expected header x-echo-initial 'first' but was '${headers.get("x-echo-initial")}'`);
    const bin = decodeBinaryHeader(trailers.get("x-echo-trailing-bin"));
    check(bin.join(",") === "0,1,254,255", `expected trailer bytes 0,1,254,255 but was ${bin.join(",")}`);
    return "header and binary trailer echoed";
  },

  async errorStatusWithMessage(target) {
    const error = await failure(() => grpcWeb(target).unary({ payload: encoder.encode("no such thing: 100% ünïcode"), failWith: 5 }));
    return expectCode(error, Code.NotFound, "no such thing: 100% ünïcode");
  },

  async deadlineExceeded(target) {
    const error = await failure(() => grpcWeb(target).unary({ delayMs: 10000 }, { timeoutMs: 300 }));
    return expectCode(error, Code.DeadlineExceeded);
  },

  async cancel(target) {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const error = await failure(() => grpcWeb(target).unary({ delayMs: 10000 }, { signal: abort.signal }));
    return expectCode(error, Code.Canceled);
  },

  async fourMebibyteMessage(target) {
    const payload = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) {
      payload[i] = (i * 31) & 0xff;
    }
    const response = await grpcWeb(target).unary({ payload });
    check(response.payload.length === payload.length, `expected ${payload.length} bytes back but got ${response.payload.length}`);
    for (let i = 0; i < payload.length; i += 4099) {
      check(response.payload[i] === payload[i], `byte ${i} differs`);
    }
    return "4 MiB each way";
  },

  async serverStreaming(target) {
    const messages = await collect(grpcWeb(target).serverStream({ payload: encoder.encode("s"), count: 200 }));
    check(messages.length === 200, `expected 200 messages but got ${messages.length}`);
    check(messages.every((m, i) => Number(m.messagesReceived) === i), "messages out of order");
    return "200 messages in order";
  },

  async serverStreamingErrorMidStream(target) {
    const seen = [];
    const error = await failure(async () => {
      for await (const m of grpcWeb(target).serverStream({ payload: encoder.encode("e"), count: 3, failWith: 9 })) {
        seen.push(m);
      }
    });
    check(seen.length === 3, `expected 3 messages before the error but got ${seen.length}`);
    return expectCode(error, Code.FailedPrecondition, "after 3");
  },

  async unknownMethod(target) {
    const error = await failure(() => grpcWeb(target, Numbers).square({ value: 3n }));
    return expectCode(error, Code.Unimplemented);
  },
};

// Against a server with a bearer-token authenticator and a 1 MiB message limit.
const grpcWebGuardedCases = {
  async missingTokenIsUnauthenticated(target) {
    const error = await failure(() => grpcWeb(target).unary({ payload: encoder.encode("x") }));
    return expectCode(error, Code.Unauthenticated);
  },

  async tokenInAuthorizationHeader(target) {
    const response = await grpcWeb(target).unary({ payload: encoder.encode("let me in") },
      { headers: { authorization: "Bearer browser-token" } });
    check(decoder.decode(response.payload) === "let me in", "payload not echoed");
    return "admitted";
  },

  async oversizedMessageIsResourceExhausted(target) {
    const error = await failure(() => grpcWeb(target).unary({ payload: new Uint8Array(2 * 1024 * 1024) },
      { headers: { authorization: "Bearer browser-token" } }));
    return expectCode(error, Code.ResourceExhausted);
  },
};

const suites = { "grpc-web": grpcWebCases, "grpc-web-guarded": grpcWebGuardedCases };

window.wsgrpcCases = {
  list(suite) {
    return Object.keys(suites[suite]);
  },
  async run(suite, name, target) {
    try {
      const detail = await suites[suite][name](target);
      return { ok: true, detail: String(detail) };
    } catch (e) {
      return { ok: false, detail: e instanceof ConnectError ? `${Code[e.code]}: ${e.rawMessage}` : String(e && e.stack || e) };
    }
  },
};
