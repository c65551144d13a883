import type { HostileArea } from '../hostile_area';
import { chatTemplatesArea } from './chat_templates';
import { configsArea } from './configs';
import { datasetsArea } from './datasets';
import { distWireArea } from './dist_wire';
import { safetensorsArea } from './safetensors';
import { tokenizersArea } from './tokenizers';

/** Every area of the hostile-input suite, in the order the runner prints them. Add a new area's file here. */
export const AREAS: readonly HostileArea[] = [safetensorsArea, tokenizersArea, chatTemplatesArea, datasetsArea, configsArea, distWireArea];
