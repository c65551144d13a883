"""Checks the PyTorch side of bench:scale against the committed golden fixtures (row 0 of each, all real tokens)
and its cached decoding against its own full forward. A developer check, not run by CI:

    /usr/bin/python3 tools/bench/scale/check_torch_worker.py
"""
import json
import os
import sys

import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_worker import Model, read_safetensors
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'packages', 'core', 'test', 'fixtures', 'models') + '/'
for name in ['gpt2', 'gpt2_prefixed', 'llama', 'qwen2']:
    config = json.load(open(root + name + '/config.json'))
    tensors = read_safetensors(root + name + '/model.safetensors')
    if config['model_type'] == 'gpt2' and 'wte.weight' in tensors:
        tensors = {'transformer.' + k: v for k, v in tensors.items()}
    m = Model(config, tensors)
    exp = json.load(open(root + name + '/expected.json'))
    ids = torch.tensor(exp['inputIds'][0:1])
    with torch.no_grad():
        logits = m.forward(ids)[0][0]
        # decode path: prefill 5 then 3 cached single steps must equal the full forward
        l5, cache = m.forward(ids[:, :5])
        steps = [l5[0, -1]]
        for t in range(5, 8):
            lt, cache = m.forward(ids[:, t:t+1], cache)
            steps.append(lt[0, -1])
    err = (logits - torch.tensor(exp['logits'][0])).abs().max().item()
    cache_err = max((steps[i] - logits[4 + i]).abs().max().item() for i in range(4))
    print(name, 'max |logit - golden| row 0:', err, ' cached decode vs full:', cache_err)
