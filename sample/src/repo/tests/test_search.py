from tiny_retriever import Index, cosine


def test_cosine_of_parallel_vectors_is_one() -> None:
    assert abs(cosine([1.0, 2.0], [2.0, 4.0]) - 1.0) < 1e-9


def test_search_returns_the_closest_key_first() -> None:
    index = Index()
    index.add("rag", [0.9, 0.1, 0.0])
    index.add("fine-tuning", [0.1, 0.9, 0.2])
    assert [key for key, _ in index.search([1.0, 0.0, 0.0], k=2)] == ["rag", "fine-tuning"]
