"""The objective registry: every record names a term and what it reads that exist. That a new
objective is one record plus its term, declared by another package, and runs through the workflow
without a change to cxrloc, test_workflow's objectives grid checks with a toy one."""

import pytest
from cxrloc import objectives
from cxrloc.errors import CxrlocError


def test_every_record_names_a_term_and_what_it_reads_that_exist():
    for o in objectives.REGISTRY.values():
        for reference in filter(None, (o.term, o.second_pass)):
            assert callable(objectives.function(reference)), (o.name, reference)
    with pytest.raises(KeyError, match="valid objectives: ce, ceiling, masked"):
        objectives.get("swapp")
    with pytest.raises(CxrlocError, match="objective 'x': a term reads a map \\(heat\\) or a second pass, exactly one"):
        objectives.Objective("x", "neither", "m:f")
