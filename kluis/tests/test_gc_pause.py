"""kluis.gc_pause: the cycle collector is paused for the duration and set back as it
was, also on an error, and a young collection frees young cycles."""

from __future__ import annotations

import gc
import weakref

import pytest

from kluis.gc_pause import collect_young, cycle_collector_paused


class _Node:
    pass


def test_paused_within_and_enabled_again_after_an_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cycle_collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_pause_within_a_pause_leaves_it_paused_until_the_outer_one_ends():
    with cycle_collector_paused():
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collect_young_frees_a_cycle_made_while_paused():
    with cycle_collector_paused():
        node = _Node()
        node.me = node  # type: ignore[attr-defined]
        alive = weakref.ref(node)
        del node
        assert alive() is not None  # a cycle: reference counting alone keeps it
        collect_young()
        assert alive() is None
