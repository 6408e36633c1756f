// Response with a byte or text body kept as bytes, not as a stream (speed only).
//
// Node's Response (undici) wraps every body in a WHATWG ReadableStream at construction and
// reads it back through a stream reader: about 0.1 ms each way on this machine, and a cache
// HIT builds and reads two Responses. workerd's Response is native code; this class keeps
// Node's behaviour (it extends it: status and statusText validation, Headers, `ok`,
// `redirected`, `type`, `url`, static `json`/`redirect`/`error`, constructor name
// "Response", which the SDK relies on) and only changes where the body lives:
//
//   * a string, ArrayBuffer, ArrayBufferView or null body is stored as bytes; strings get
//     `content-type: text/plain;charset=UTF-8` unless one is given (Fetch standard);
//     any other body (ReadableStream, Blob, FormData, URLSearchParams) goes to Node as is;
//   * arrayBuffer() / bytes() / text() / json() / blob() read the bytes once, then
//     bodyUsed is true and another read throws TypeError, as the standard says;
//   * `body` builds the ReadableStream only when asked for; clone() copies the bytes;
//   * a body with a null-body status (101, 204, 205, 304) is a TypeError, as in Node.
//
// Sources: https://fetch.spec.whatwg.org/#response-class and
// https://developers.cloudflare.com/workers/runtime-apis/response/ (what a Worker can do
// with a Response; `webSocket` and `encodeBody` are not covered, as before).

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function asBytes(body) {
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body.slice(0));
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
  }
  return undefined;
}

export function makeResponseClass() {
  const Native = globalThis.Response;

  class Response extends Native {
    #bytes = null; // Uint8Array while the body is ours; null for no body or a native body
    #own = false;
    #used = false;
    #stream = null;

    constructor(body = null, init = undefined) {
      const bytes = body === null || body === undefined ? null : asBytes(body);
      if (bytes === undefined) {
        super(body, init); // streams, blobs, forms: Node's own handling
        return;
      }
      super(null, init);
      if (bytes !== null && NULL_BODY_STATUSES.has(this.status)) {
        throw new TypeError(`Response with null body status ${this.status} cannot have body`);
      }
      this.#own = true;
      this.#bytes = bytes;
      if (typeof body === 'string' && !this.headers.has('content-type')) {
        this.headers.set('content-type', 'text/plain;charset=UTF-8');
      }
    }

    #take() {
      if (this.#stream !== null) return null; // the stream owns the body now
      if (this.#used) throw new TypeError('Body is unusable: Body has already been read');
      this.#used = true;
      return this.#bytes ?? new Uint8Array(0);
    }

    get body() {
      if (!this.#own) return super.body;
      if (this.#bytes === null) return null;
      if (this.#stream === null) {
        const bytes = this.#bytes;
        this.#stream = new ReadableStream({
          start(controller) {
            controller.enqueue(bytes);
            controller.close();
          },
        });
      }
      return this.#stream;
    }

    get bodyUsed() {
      if (!this.#own) return super.bodyUsed;
      return this.#used || (this.#stream !== null && this.#stream.locked);
    }

    async arrayBuffer() {
      if (!this.#own) return super.arrayBuffer();
      const bytes = this.#take();
      if (bytes === null) return new Native(this.#stream).arrayBuffer();
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    }

    async bytes() {
      return new Uint8Array(await this.arrayBuffer());
    }

    async text() {
      if (!this.#own) return super.text();
      const bytes = this.#take();
      return bytes === null ? new Native(this.#stream).text() : decoder.decode(bytes);
    }

    async json() {
      return JSON.parse(await this.text());
    }

    async formData() {
      if (!this.#own) return super.formData();
      return new Native(this.#take(), { headers: this.headers }).formData();
    }

    async blob() {
      if (!this.#own) return super.blob();
      const type = this.headers.get('content-type') || '';
      return new Blob([await this.arrayBuffer()], { type });
    }

    clone() {
      if (!this.#own || this.#stream !== null) return super.clone();
      if (this.#used) throw new TypeError('Response.clone: Body has already been consumed.');
      return new Response(this.#bytes, {
        status: this.status, statusText: this.statusText, headers: this.headers,
      });
    }
  }
  return Response;
}
