import type { GlooStoreFunction } from './gloo_addon';

/**
 * The part of a rendezvous store Gloo needs: our `StoreClient` and torchrun's `TorchStoreClient` both fit.
 * Values are strings, so Gloo's binary addresses travel base64-encoded.
 */
export interface GlooRendezvousStore {
  set(key: string, value: string): Promise<void>;
  get(key: string, timeoutMs: number): Promise<string>;
  wait(keys: readonly string[], timeoutMs: number): Promise<void>;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error);
}

/**
 * The JS half of the native JsStore (native/js_store.h): answers gloo's set/get/wait from `store`, with every key
 * under `keyPrefix` so that runs and restarts sharing one store do not see each other's addresses.
 */
export function glooStoreFunction(store: GlooRendezvousStore, keyPrefix: string): GlooStoreFunction {
  const scoped = (key: string): string => `${keyPrefix}/${key}`;
  return (request, done) => {
    let answer: Promise<Buffer | undefined>;
    switch (request.op) {
      case 'set':
        answer = store.set(scoped(request.key), request.value.toString('base64')).then(() => undefined);
        break;
      case 'get':
        answer = store.get(scoped(request.key), request.timeoutMs).then((text) => Buffer.from(text, 'base64'));
        break;
      case 'wait':
        answer = store.wait(request.keys.map(scoped), request.timeoutMs).then(() => undefined);
        break;
      default: {
        const exhaustive: never = request.op;
        answer = Promise.reject(new Error(`unknown store op ${String(exhaustive)}`));
      }
    }
    answer.then(
      (value) => done(null, value),
      (error: unknown) => done(`${request.op} "${request.key}": ${describe(error)}`),
    );
  };
}
