"""Per-object caches: one value per object and arguments, never another object's."""

from __future__ import annotations

from dataclasses import dataclass

from workloads.memo import LIMIT, per_object


@dataclass(frozen=True)
class Box:
    value: int


def test_values_are_cached_per_object_and_arguments():
    calls = []

    @per_object
    def scaled(box: Box, k: int) -> int:
        calls.append((box.value, k))
        return box.value * k

    a, b = Box(2), Box(2)  # equal, but distinct objects: each its own entry
    assert [scaled(a, 3), scaled(a, 3), scaled(a, 4), scaled(b, 3)] == [6, 6, 8, 6]
    assert calls == [(2, 3), (2, 4), (2, 3)]


def test_a_dead_objects_id_reused_never_returns_its_value():
    @per_object
    def ident(box: Box) -> int:
        return box.value

    # objects made and dropped one after another often share an id: each gets its own value
    assert [ident(Box(i)) for i in range(2 * LIMIT + 3)] == list(range(2 * LIMIT + 3))


def test_unhashable_arguments_are_computed_each_time():
    import numpy as np

    @per_object
    def total(box: Box, xs: np.ndarray) -> int:
        return box.value + int(xs.sum())

    assert total(Box(1), np.array([1, 2])) == 4


def test_keyword_arguments_are_part_of_the_key():
    @per_object
    def scaled(box: Box, k: int = 1) -> int:
        return box.value * k

    b = Box(3)
    assert [scaled(b), scaled(b, k=2), scaled(b, 2), scaled(b, k=2)] == [3, 6, 6, 6]
