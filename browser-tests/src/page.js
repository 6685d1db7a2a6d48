// The test page: every case runs in Chromium with the real npm client packages and returns what it saw.
// The driver (driver.mjs) calls window.wsgrpcCases.list(suite) and window.wsgrpcCases.run(suite, name, target).
import { createClient, ConnectError, Code, encodeBinaryHeader, decodeBinaryHeader } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { grpc } from "@improbable-eng/grpc-web";
import { Echo, EchoRequestSchema, EchoResponseSchema } from "../gen/wsgrpc/echo_pb.js";
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

  // The page keeps no deadline of its own: the server's, from grpc-timeout, ends the call.
  async serverSideDeadline(target) {
    const error = await failure(() => grpcWeb(target).unary({ delayMs: 3000 }, { headers: { "grpc-timeout": "500m" } }));
    return expectCode(error, Code.DeadlineExceeded);
  },

  async jsonFormatIsRefusedWith415(target) {
    const client = createClient(Echo, createGrpcWebTransport({ baseUrl: target, useBinaryFormat: false }));
    const error = await failure(() => client.unary({ payload: encoder.encode("json") }));
    return expectCode(error, Code.Unknown, "415");
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


// gRPC over WebSocket (subprotocol grpc-websockets) with improbable's client, on protobuf-es messages.
function improbableType(schema) {
  return class {
    constructor(message) { this.message = message; }
    serializeBinary() { return toBinary(schema, this.message); }
    toObject() { return this.message; }
    static deserializeBinary(bytes) { return new this(fromBinary(schema, bytes)); }
  };
}
const ImprobableRequest = improbableType(EchoRequestSchema);
const ImprobableResponse = improbableType(EchoResponseSchema);

/** Starts a call on one WebSocket; `ended` resolves with { code, message, trailers }. */
function wsCall(target, methodName, requestStream, responseStream, metadata = {}) {
  const call = { messages: [], headers: undefined };
  const client = grpc.client({
    methodName, service: { serviceName: "wsgrpc.testing.Echo" }, requestStream, responseStream,
    requestType: ImprobableRequest, responseType: ImprobableResponse,
  }, { host: target, transport: grpc.WebsocketTransport() });
  call.ended = new Promise((resolve) => client.onEnd((code, message, trailers) => resolve({ code, message, trailers })));
  client.onHeaders((h) => { call.headers = h; });
  client.onMessage((m) => {
    call.messages.push(m.message);
    if (call.waiter && call.messages.length >= call.waiter.count) {
      call.waiter.resolve();
    }
  });
  client.start(metadata);
  call.send = (fields) => client.send(new ImprobableRequest(create(EchoRequestSchema, fields)));
  call.finishSend = () => client.finishSend();
  call.close = () => client.close();
  call.received = (count) => call.messages.length >= count ? Promise.resolve()
    : new Promise((resolve) => { call.waiter = { count, resolve }; });
  return call;
}

function expectWsCode(end, code, messagePart) {
  check(end.code === code, `expected code ${grpc.Code[code]} but was ${grpc.Code[end.code]} (${end.message})`);
  if (messagePart !== undefined) {
    check(end.message.includes(messagePart), `expected a message containing '${messagePart}' but was '${end.message}'`);
  }
  return `${grpc.Code[end.code]}: ${end.message}`;
}

const grpcWebSocketsCases = {
  async unary(target) {
    const call = wsCall(target, "Unary", false, false, { "x-echo-initial": "over a socket" });
    call.send({ payload: encoder.encode("hello over grpc-websockets") });
    call.finishSend();
    const end = await call.ended;
    expectWsCode(end, grpc.Code.OK);
    check(decoder.decode(call.messages[0].payload) === "hello over grpc-websockets", "payload not echoed");
    check(call.headers.get("x-echo-initial")[0] === "over a socket", "header x-echo-initial not echoed");
    return "echoed, with metadata";
  },

  async serverStreaming(target) {
    const call = wsCall(target, "ServerStream", false, true);
    call.send({ payload: encoder.encode("s"), count: 100 });
    call.finishSend();
    expectWsCode(await call.ended, grpc.Code.OK);
    check(call.messages.length === 100, `expected 100 messages but got ${call.messages.length}`);
    return "100 messages";
  },

  async clientStreamingThousandMessages(target) {
    const call = wsCall(target, "ClientStream", true, false);
    for (let i = 0; i < 1000; i++) {
      call.send({ payload: encoder.encode(`message ${i}`) });
    }
    call.finishSend();
    expectWsCode(await call.ended, grpc.Code.OK);
    check(call.messages[0].messagesReceived === 1000n, `expected 1000 received but was ${call.messages[0].messagesReceived}`);
    return "1000 messages counted by the server";
  },

  async bidiThousandMessagesEachWay(target) {
    const call = wsCall(target, "Bidi", true, true);
    for (let i = 0; i < 1000; i++) {
      call.send({ payload: encoder.encode(`ping ${i}`) });
    }
    await call.received(1000);
    call.finishSend();
    expectWsCode(await call.ended, grpc.Code.OK);
    check(call.messages.length === 1000, `expected 1000 echoes but got ${call.messages.length}`);
    check(call.messages.every((m, i) => decoder.decode(m.payload) === `ping ${i}`), "echoes out of order");
    return "1000 each way, in order";
  },

  async bidiCancelMidStream(target) {
    const call = wsCall(target, "Bidi", true, true);
    for (let i = 0; i < 10; i++) {
      call.send({ payload: encoder.encode(`before cancel ${i}`) });
    }
    await call.received(10);
    call.close();
    // The server saw the cancellation (asserted by the JUnit test); the next call on a new socket works.
    const next = wsCall(target, "Unary", false, false);
    next.send({ payload: encoder.encode("after") });
    next.finishSend();
    expectWsCode(await next.ended, grpc.Code.OK);
    return "cancelled after 10 echoes; the next call works";
  },

  async bidiServerErrorMidStream(target) {
    const call = wsCall(target, "Bidi", true, true);
    for (let i = 0; i < 5; i++) {
      call.send({ payload: encoder.encode(`ok ${i}`) });
    }
    await call.received(5);
    call.send({ failWith: 9 });
    const end = await call.ended;
    check(call.messages.length === 5, `expected 5 echoes before the error but got ${call.messages.length}`);
    return expectWsCode(end, grpc.Code.FailedPrecondition);
  },

  async serverSideDeadline(target) {
    const call = wsCall(target, "Unary", false, false, { "grpc-timeout": "500m" });
    call.send({ delayMs: 3000 });
    call.finishSend();
    return expectWsCode(await call.ended, grpc.Code.DeadlineExceeded);
  },

  async unknownMethod(target) {
    const call = wsCall(target, "NoSuchMethod", false, false);
    call.send({});
    call.finishSend();
    return expectWsCode(await call.ended, grpc.Code.Unimplemented);
  },
};

const grpcWebSocketsGuardedCases = {
  async missingTokenIsUnauthenticated(target) {
    const call = wsCall(target, "Unary", false, false);
    call.send({ payload: encoder.encode("x") });
    call.finishSend();
    return expectWsCode(await call.ended, grpc.Code.Unauthenticated);
  },

  async tokenInFirstMessage(target) {
    const call = wsCall(target, "Bidi", true, true, { authorization: "Bearer browser-token" });
    call.send({ payload: encoder.encode("let me in") });
    await call.received(1);
    call.finishSend();
    expectWsCode(await call.ended, grpc.Code.OK);
    return "admitted";
  },
};

// Against a server that allows pages from another origin only.
const wrongOriginCases = {
  async grpcWebIsRefusedByCors(target) {
    const error = await failure(() => grpcWeb(target).unary({ payload: encoder.encode("x") }));
    // The browser withholds a refused cross-origin answer from the page: it reports a network failure.
    return expectCode(error, Code.Unknown, "Failed to fetch");
  },

  async grpcWebSocketsIsPermissionDenied(target) {
    const call = wsCall(target, "Unary", false, false);
    call.send({ payload: encoder.encode("x") });
    call.finishSend();
    return expectWsCode(await call.ended, grpc.Code.PermissionDenied, "expected an allowed Origin");
  },
};

// JSON over a plain WebSocket (subprotocol wsgrpc-json): no generated code, no client library.
function jsonCall(target, method, messages, metadata) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${target.replace(/^http/, "ws")}/wsgrpc.testing.Echo/${method}`, "wsgrpc-json");
    const got = { protocol: null, metadata: null, messages: [], status: null, trailers: null, closeCode: null };
    ws.onopen = () => {
      got.protocol = ws.protocol;
      if (metadata) {
        ws.send(JSON.stringify({ metadata }));
      }
      for (const message of messages) {
        ws.send(JSON.stringify({ message }));
      }
      ws.send(JSON.stringify({ halfClose: true }));
    };
    ws.onmessage = (event) => {
      const received = JSON.parse(event.data);
      if (received.metadata) {
        got.metadata = received.metadata;
      } else if (received.message) {
        got.messages.push(received.message);
      } else if (received.status) {
        got.status = received.status;
        got.trailers = received.trailers;
      }
    };
    ws.onclose = (event) => {
      got.closeCode = event.code;
      resolve(got);
    };
  });
}

function expectJsonStatus(got, code, messagePart) {
  check(got.closeCode === 1000, `expected Close 1000 but was ${got.closeCode}`);
  check(got.status !== null, "expected a status message last");
  check(got.status.code === code, `expected status ${code} but was ${JSON.stringify(got.status)}`);
  if (messagePart !== undefined) {
    check(got.status.message.includes(messagePart),
      `expected a message containing '${messagePart}' but was '${got.status.message}'`);
  }
  return `status ${got.status.code}: ${got.status.message}`;
}

const jsonWebSocketCases = {
  "unary with metadata both ways": async (target) => {
    const got = await jsonCall(target, "Unary", [{ payload: btoa("hello") }], { "x-echo-initial": "from-page" });
    check(got.protocol === "wsgrpc-json", `expected the server to choose wsgrpc-json but was '${got.protocol}'`);
    check(got.metadata && got.metadata["x-echo-initial"] === "from-page",
      `expected the echoed header but got ${JSON.stringify(got.metadata)}`);
    check(got.messages.length === 1 && atob(got.messages[0].payload) === "hello",
      `expected the payload back but got ${JSON.stringify(got.messages)}`);
    check(got.messages[0].messagesReceived === "1", "int64 travels as a JSON string");
    return expectJsonStatus(got, 0);
  },
  "server streaming": async (target) => {
    const got = await jsonCall(target, "ServerStream", [{ payload: btoa("s"), count: 50 }]);
    check(got.messages.length === 50, `expected 50 messages but got ${got.messages.length}`);
    return expectJsonStatus(got, 0);
  },
  "client streaming, 1,000 messages": async (target) => {
    const messages = Array.from({ length: 1000 }, (_, i) => ({ payload: btoa(`m${i}`) }));
    const got = await jsonCall(target, "ClientStream", messages);
    check(got.messages.length === 1 && got.messages[0].messagesReceived === "1000",
      `expected 1000 received but got ${JSON.stringify(got.messages)}`);
    return expectJsonStatus(got, 0);
  },
  "bidi, 1,000 messages each way": async (target) => {
    const messages = Array.from({ length: 1000 }, (_, i) => ({ payload: btoa(`m${i}`) }));
    const got = await jsonCall(target, "Bidi", messages);
    check(got.messages.length === 1000, `expected 1000 answers but got ${got.messages.length}`);
    check(atob(got.messages[999].payload) === "m999", "in order");
    return expectJsonStatus(got, 0);
  },
  "error status with a message": async (target) => {
    const got = await jsonCall(target, "Unary", [{ payload: btoa("no such thing"), failWith: 5 }]);
    return expectJsonStatus(got, 5, "no such thing");
  },
  "not JSON of the request type": async (target) => {
    const got = await jsonCall(target, "Unary", [{ colour: "red" }]);
    return expectJsonStatus(got, 3, "expected a wsgrpc.testing.EchoRequest as JSON");
  },
  "a deadline that passes on the server": async (target) => {
    const got = await jsonCall(target, "Unary", [{ delayMs: 3000 }], { "grpc-timeout": "500m" });
    return expectJsonStatus(got, 4);
  },
  "unknown method": async (target) => {
    const got = await jsonCall(target, "Nope", [{}]);
    return expectJsonStatus(got, 12);
  },
};

const suites = {
  "json-ws": jsonWebSocketCases,
  "grpc-web": grpcWebCases,
  "grpc-web-guarded": grpcWebGuardedCases,
  "grpc-websockets": grpcWebSocketsCases,
  "grpc-websockets-guarded": grpcWebSocketsGuardedCases,
  "wrong-origin": wrongOriginCases,
};

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
