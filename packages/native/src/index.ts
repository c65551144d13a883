// Public API of @rlhfjs/native: explicit named exports only. Importing the package registers the `native`
// tfjs backend when the OpenBLAS addon is built; select it with `await tf.setBackend('native')`.
import { registerNativeBackend } from './backend/register_native_backend';

registerNativeBackend();

export { isNativeAvailable, nativeInfo } from './binding/native_addon';
export type { NativeInfo } from './binding/native_addon';
export { chooseOpenBlasCoreType } from './binding/openblas_core_type';
export type { OpenBlasCoreTypeSource } from './binding/openblas_core_type';
export { registerNativeBackend, nativeBackendName, nativeKernelNames } from './backend/register_native_backend';
export { NativeBackend } from './backend/native_backend';
