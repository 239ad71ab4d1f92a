"""A transformers causal LM under evaluation: answer-only NLL and batched greedy generation.

Prompts go through the tokenizer's own chat template (ChatML for SmolLM2), as in training and
serving. The answer's tokens are those the full conversation adds after the generation prompt.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger
from tqdm.auto import tqdm

from llm_engineering.domain.training import EvaluationError


@dataclass(frozen=True)
class LMConfig:
    batch_size: int = 8
    max_length: int = 512
    device: str = "cpu"


class TransformersLM:
    """`EvaluatedLM` over a transformers folder; cheap to build, loads in `warm_up`."""

    def __init__(self, name: str, path: Path, config: LMConfig | None = None) -> None:
        self.name = name
        self.path = Path(path)
        self.config = config or LMConfig()
        self._model: Any = None
        self._tokenizer: Any = None

    def warm_up(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not (self.path / "config.json").is_file():
            raise EvaluationError(f"{self.path} is not a transformers model folder (no config.json)")
        tokenizer = AutoTokenizer.from_pretrained(self.path)
        if tokenizer.chat_template is None:
            raise EvaluationError(
                f"the tokenizer in {self.path} has no chat template: evaluate models saved with theirs"
            )
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(self.path, dtype=torch.float32)
        model.to(self.config.device).eval()
        self._tokenizer, self._model = tokenizer, model

    def close(self) -> None:
        self._model = None
        self._tokenizer = None
        gc.collect()

    # --- perplexity ---------------------------------------------------------------------------

    def _encode_pair(self, instruction: str, answer: str) -> tuple[list[int], int]:
        """(token ids of prompt + answer, where the answer starts), cut to `max_length`."""
        tok = self._tokenizer
        user = [{"role": "user", "content": instruction}]
        prompt = tok.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
        full = tok.apply_chat_template([*user, {"role": "assistant", "content": answer}], tokenize=False)
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        full_ids = tok(full, add_special_tokens=False)["input_ids"]
        start = 0
        while start < min(len(prompt_ids), len(full_ids)) and prompt_ids[start] == full_ids[start]:
            start += 1
        limit = self.config.max_length
        if start > limit // 2:  # a long prompt keeps its end, so half the window scores the answer
            cut = start - limit // 2
            full_ids, start = full_ids[cut:], start - cut
        return full_ids[:limit], start

    def answer_nll(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[float, int]]:
        import torch

        self.warm_up()
        encoded = [self._encode_pair(instruction, answer) for instruction, answer in pairs]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))  # less padding
        results: list[tuple[float, int]] = [(0.0, 0)] * len(encoded)
        pad = self._tokenizer.pad_token_id
        batches = [
            order[i : i + self.config.batch_size] for i in range(0, len(order), self.config.batch_size)
        ]
        for batch in tqdm(batches, desc=f"{self.name} perplexity", unit="batch", leave=False):
            width = max(len(encoded[i][0]) for i in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            for row, i in enumerate(batch):
                tokens, start = encoded[i]
                ids[row, : len(tokens)] = torch.tensor(tokens)
                mask[row, : len(tokens)] = 1
                labels[row, start : len(tokens)] = torch.tensor(tokens[start:])
            with torch.inference_mode():
                logits = self._model(
                    input_ids=ids.to(self.config.device), attention_mask=mask.to(self.config.device)
                ).logits.float()
            shifted, targets = logits[:, :-1], labels[:, 1:].to(logits.device)
            losses = torch.nn.functional.cross_entropy(
                shifted.reshape(-1, shifted.size(-1)),
                targets.reshape(-1),
                ignore_index=-100,
                reduction="none",
            ).view(targets.shape)
            counted = targets != -100
            for row, i in enumerate(batch):
                results[i] = (float(losses[row][counted[row]].sum()), int(counted[row].sum()))
        empty = sum(1 for _, n in results if n == 0)
        if empty:
            logger.warning("{}: {} answers had no token left after truncation", self.name, empty)
        return results

    # --- generation ---------------------------------------------------------------------------

    def generate(self, instructions: Sequence[str], max_new_tokens: int) -> list[str]:
        import torch

        self.warm_up()
        tok = self._tokenizer
        tok.padding_side = "left"
        prompts = [
            tok.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
            )
            for text in instructions
        ]
        answers: list[str] = []
        size = self.config.batch_size
        for start in tqdm(
            range(0, len(prompts), size), desc=f"{self.name} answers", unit="batch", leave=False
        ):
            batch = tok(
                prompts[start : start + size], return_tensors="pt", padding=True, add_special_tokens=False
            )
            batch = {key: value.to(self.config.device) for key, value in batch.items()}
            with torch.inference_mode():
                output = self._model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id,
                )
            new_tokens = output[:, batch["input_ids"].shape[1] :]
            answers += [text.strip() for text in tok.batch_decode(new_tokens, skip_special_tokens=True)]
        return answers


def pick_device(device: str) -> str:
    """ "auto" -> "cuda" when a GPU is visible, else "cpu"."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
