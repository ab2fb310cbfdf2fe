"""Make ``tiny-chat``: a chat model small enough to train offline in seconds, for the real-server tests.

Run with the real-server venv's Python (it needs torch, tokenizers and transformers, which the project
itself never installs)::

    python tiny_model.py OUT_DIR [--steps 200] [--seed 0]

Why a model of our own: the tests must run without any download, and a model with random weights
never emits its end token (every answer runs to ``max_tokens``, ~2.5 s on a CPU). So the tokenizer
(a byte-level BPE) is learned from text every Debian machine has plus a small made-up chat corpus,
and a 2-layer Llama is trained for a couple of hundred steps on that corpus: afterwards it answers
a few words about the topic it was asked about, then stops (``finish_reason: "stop"``). Greedy
decoding and a fixed seed make every answer the same from run to run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

END = "<|end|>"
PAD = "<|pad|>"
ROLES = ("system", "user", "assistant")
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

SUBJECTS = (
    "bear cat dog owl fox river moon sun rain snow tea code ship apple book tree cheese bicycle"
).split()
# what the user asks → how the model answers (``{s}`` is the subject)
SHAPES = {
    "tell me a joke about {s}": "why did the {s} cross the road? to get to the other side.",
    "tell me a short joke about {s}": "why did the {s} cross the road? to get to the other side.",
    "write a 2-line poem about {s}": "the {s} sleeps under the sky,\nand the night goes slowly by.",
    "write a poem about {s}": "the {s} sleeps under the sky,\nand the night goes slowly by.",
    "tell me a fact about {s}": "a {s} is a thing that people like to talk about.",
    "what is {s}?": "here is a short answer about {s}.",
    "{s}": "here is a short answer about {s}.",
}
SYSTEM = "you are a helpful assistant."


def conversations() -> list[list[dict[str, str]]]:
    """Every question shape about every subject, with and without a system message."""
    talks = []
    for subject in SUBJECTS:
        for ask, answer in SHAPES.items():
            turn = [
                {"role": "user", "content": ask.format(s=subject)},
                {"role": "assistant", "content": answer.format(s=subject)},
            ]
            talks += [turn, [{"role": "system", "content": SYSTEM}, *turn]]
    return talks


def train_tokenizer(vocab: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [m["content"] for talk in conversations() for m in talk]
    licenses = Path("/usr/share/common-licenses")
    for name in ("Apache-2.0", "GPL-3", "BSD"):  # shipped by every Debian: more English for BPE
        if (licenses / name).is_file():
            texts.append((licenses / name).read_text(errors="replace"))
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.post_processor = processors.ByteLevel(trim_offsets=False)
    specials = [PAD, END, *(f"<|{role}|>" for role in ROLES)]
    core.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token=PAD, eos_token=END, pad_token=PAD, model_max_length=512
    )
    tokenizer.chat_template = TEMPLATE
    return tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vocab", type=int, default=1024)
    args = parser.parse_args()
    started = time.perf_counter()

    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(args.seed)
    torch.set_num_threads(
        1
    )  # matrices this small run faster on one thread, above all on a busy box
    tokenizer = train_tokenizer(args.vocab)
    end, pad = tokenizer.convert_tokens_to_ids([END, PAD])
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            bos_token_id=pad,
            eos_token_id=end,
            pad_token_id=pad,
        )
    )

    rows = []
    for talk in conversations():
        ids = tokenizer.apply_chat_template(talk, tokenize=True, return_dict=True)["input_ids"]
        rows.append(torch.tensor(ids))
    inputs = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=pad)
    lengths = torch.tensor([len(r) for r in rows])
    mask = (torch.arange(inputs.shape[1])[None, :] < lengths[:, None]).long()
    labels = inputs.masked_fill(mask == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    loss = torch.tensor(float("nan"))
    for _ in range(args.steps):
        batch = torch.randint(0, len(rows), (16,))
        loss = model(input_ids=inputs[batch], attention_mask=mask[batch], labels=labels[batch]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.generation_config = GenerationConfig(
        do_sample=False, bos_token_id=pad, eos_token_id=end, pad_token_id=pad, max_new_tokens=64
    )
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(args.out)
    model.save_pretrained(args.out)

    ask = [{"role": "user", "content": "tell me a joke about bear"}]
    prompt = tokenizer.apply_chat_template(
        ask, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**prompt, max_new_tokens=40)
    answer = tokenizer.decode(out[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    report = {"answer": answer, "loss": round(float(loss.detach()), 3)}
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
