"""``tiny-chat`` (a Hugging Face folder) as a GGUF file, through llama.cpp's own converter.

    python to_gguf.py LLAMA_CPP_DIR MODEL_DIR OUT_FILE

``LLAMA_CPP_DIR`` holds ``convert_hf_to_gguf.py``, ``conversion/`` and ``gguf-py/`` (the
llama-cpp-python sdist ships them under ``vendor/llama.cpp/``). Run with the transformers venv.

Two things stand in the converter's way, both because our tokenizer was trained here: it names a
BPE pre-tokenizer by hashing how it splits a test string, and refuses hashes it does not know; and
for a Llama it looks for a SentencePiece model first. Ours is a plain byte-level BPE, the GPT-2
kind, so both answers are given up front; the conversion itself is the converter's.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    source, model, out = (Path(arg).resolve() for arg in sys.argv[1:4])
    sys.path[:0] = [str(source), str(source / "gguf-py")]

    from conversion import base, llama  # llama.cpp's converter package

    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
    llama.LlamaModel.set_vocab = lambda self: self._set_vocab_gpt2()

    import convert_hf_to_gguf

    sys.argv = ["convert_hf_to_gguf.py", str(model), "--outfile", str(out), "--outtype", "f32"]
    convert_hf_to_gguf.main()


if __name__ == "__main__":
    main()
