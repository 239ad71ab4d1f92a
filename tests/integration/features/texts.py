"""Small, distinct texts for feature-pipeline tests: a few chunks each, on different topics."""

from __future__ import annotations

#: long enough for several MiniLM chunks (256 tokens each)
HNSW_ARTICLE = "\n\n".join(
    [
        "An approximate nearest-neighbour index trades a little recall for a lot of speed. "
        "HNSW builds a layered graph in which every vector links to a few close neighbours, and a "
        "search walks that graph greedily from a fixed entry point on the top layer down to the "
        "bottom one, where the candidates are compared with the query.",
        "Three settings matter. The number of links per node, m, decides how dense the graph is: "
        "more links mean better recall and more memory. The construction beam, ef_construct, decides "
        "how carefully each new vector is placed: a wider beam builds a better graph, slowly. The "
        "search beam, ef, decides how many candidates a query keeps while it walks the graph.",
        "Measure before tuning. Take a few hundred real queries, compute their exact neighbours with "
        "a brute-force scan, and compare what the index returns with that ground truth. Recall at ten "
        "above ninety-five percent is usually enough; beyond that, each extra point costs latency.",
        "Payload filters change the picture. When a filter removes most of the collection, the graph "
        "walk keeps hitting points that do not match, recall drops, and the engine may switch to an "
        "exact scan of the matching points. Index the payload fields you filter on, and check recall "
        "with the filters your application really uses, not only without them.",
        "Quantisation is the last lever. Storing vectors as eight-bit integers cuts memory by four "
        "and speeds up distance computations, at a small cost in accuracy that rescoring the top "
        "candidates with the original vectors mostly recovers. Keep the originals on disk for that.",
        "Finally, remember that the index only finds vectors that point in a similar direction. "
        "Whether similar vectors mean similar answers is the embedding model's job, and no index "
        "setting can fix an embedding that puts unrelated texts close together.",
    ]
)

LORA_ARTICLE = (
    "Fine-tuning a small language model on your own writing takes a few hundred examples and an "
    "afternoon. LoRA freezes the base weights and trains two thin matrices per attention layer, so "
    "the optimizer state fits on a laptop. Start with a learning rate around two times ten to the "
    "minus four, train for three epochs, and read the outputs yourself: loss curves say little about "
    "whether the model sounds like you."
)

SOURDOUGH_POST = (
    "Baked my first sourdough loaf this weekend. The starter took nine days to become lively, the "
    "dough rested overnight in the fridge, and the crust cracked beautifully in a hot Dutch oven."
)

REPO_FILES = {
    "README.md": "# tiny-cache\n\nA least-recently-used cache with a size limit, in pure Python.",
    "tiny_cache/lru.py": (
        "from collections import OrderedDict\n\n\n"
        "class LRUCache:\n"
        "    def __init__(self, capacity: int) -> None:\n"
        "        self.capacity = capacity\n"
        "        self.items: OrderedDict[str, object] = OrderedDict()\n\n"
        "    def get(self, key: str) -> object | None:\n"
        "        if key not in self.items:\n"
        "            return None\n"
        "        self.items.move_to_end(key)\n"
        "        return self.items[key]\n"
    ),
}

CHESS_ARTICLE = (
    "Opening principles in chess are simple: control the centre with pawns, develop knights before "
    "bishops, castle early and do not move the same piece twice without a reason. Club players lose "
    "more games to loose pieces in the middlegame than to any opening trap."
)
