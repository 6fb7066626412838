"""Low-rank factors and int8 weights together: the dense and the compressed SmolLM2 folders
of ``compress_llm_folder.py`` (run it first), each in float32 and in int8 by
``lrkit.nn.quantize_int8`` (PyTorch's dynamic quantisation of every linear map: the factors
of the compressed layers and MoDeGPT's narrowed MLP maps too).

Reported: perplexity on 16 held-out windows of 256 tokens, the weights' size in memory
(``state_dict`` serialised), ``generate()`` tokens per second (64 new tokens after a 32-token
prompt, best of 3) on one and two threads. Raw output:
``examples/output/quantize_llm_folder.txt`` (or the path given as argument).
"""

import io
import sys
import time
from pathlib import Path

import torch

import lrkit.nn as lnn
from lrkit.nn.workloads import datasets, models

FOLDERS = {"dense": Path("out/smollm2-fp32"), "30% removed": Path("out/smollm2-30")}


def main(path="examples/output/quantize_llm_folder.txt"):
    _, tokenizer = models.load_smollm2(cache=FOLDERS["dense"])
    text = datasets.stdlib_sentences(900, "evaluation")
    held_out = datasets.token_windows(tokenizer, text, 16, 256)
    prompt = {k: v[:, :32] for k, v in held_out[0].items()}
    rows = ["| model | weights | perplexity | size in memory (MiB) | threads | generate() "
            "tokens/s |", "|---|---|---:|---:|---:|---:|"]
    for label, folder in FOLDERS.items():
        model = (models.load_smollm2(cache=folder)[0] if label == "dense"
                 else lnn.load(folder))
        for weights in ("float32", "int8 (dynamic)"):
            if weights != "float32":
                model = lnn.quantize_int8(model)
            torch.set_num_threads(2)
            perplexity = lnn.causal_perplexity(model, held_out)
            size = _serialised_bytes(model) / 2**20
            for threads in (1, 2):
                torch.set_num_threads(threads)
                rate = max(_tokens_per_second(model, prompt) for _ in range(3))
                rows.append(f"| {label} | {weights} | {perplexity:.2f} | {size:.0f} | "
                            f"{threads} | {rate:.1f} |")
                print(rows[-1], flush=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(rows) + "\n")
    print(f"saved {path}")


def _serialised_bytes(model):
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


@torch.no_grad()
def _tokens_per_second(model, prompt, new=64):
    start = time.perf_counter()
    model.generate(**prompt, max_new_tokens=new, min_new_tokens=new, do_sample=False)
    return new / (time.perf_counter() - start)


if __name__ == "__main__":
    main(*sys.argv[1:])
