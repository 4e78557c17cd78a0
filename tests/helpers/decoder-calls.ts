/**
 * Count what the decoders are asked to do, so tests can prove that oversized or bomb-like inputs
 * are refused before any decoding starts: PNG inflaters created (fflate's Unzlib) and calls into
 * MozJPEG's decode (its emscripten factory is wrapped to spy on the module it builds).
 *
 * Each test file that counts mocks both modules with these factories (vi.mock is hoisted above the
 * imports, so its factory imports this module) and imports {@link calls} from here:
 *   vi.mock('fflate', async (importOriginal) => (await import('../helpers/decoder-calls.ts')).countingFflate(importOriginal));
 */

/** Counts since the last {@link resetCallCounts}, but `jpegInstances`, counted over the whole test file. */
export const calls = { inflaters: 0, inflaterInputBytes: 0, jpegDecodes: 0, jpegInstances: 0 };

/** fflate with an `Unzlib` that counts the inflaters made and the bytes pushed into them. */
export async function countingFflate(importOriginal: <T>() => Promise<T>) {
  const original = await importOriginal<typeof import('fflate')>();
  class CountingUnzlib extends original.Unzlib {
    constructor(...args: ConstructorParameters<typeof original.Unzlib>) {
      super(...args);
      calls.inflaters++;
    }
    override push(chunk: Uint8Array, final?: boolean): void {
      calls.inflaterInputBytes += chunk.length;
      super.push(chunk, final);
    }
  }
  return { ...original, Unzlib: CountingUnzlib };
}

/** MozJPEG's emscripten factory, wrapped to count the instances it builds and their decode calls. */
export async function countingMozjpeg(importOriginal: <T>() => Promise<T>): Promise<{ default: (settings: unknown) => Promise<unknown> }> {
  type Module = { decode: (...args: unknown[]) => unknown };
  const original = (await importOriginal<{ default: (settings: unknown) => Promise<Module> }>()).default;
  return {
    default: async (settings: unknown) => {
      const module = await original(settings);
      const decode = module.decode.bind(module);
      module.decode = (...args: unknown[]) => {
        calls.jpegDecodes++;
        return decode(...args);
      };
      calls.jpegInstances++;
      return module;
    },
  };
}

/** Resets the per-test counts (for afterEach). */
export function resetCallCounts(): void {
  calls.inflaters = 0;
  calls.inflaterInputBytes = 0;
  calls.jpegDecodes = 0;
}
