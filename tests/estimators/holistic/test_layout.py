"""The Holistic layout signpose keeps (layout.json) is pose-format's own, point for point,
limb for limb, colour for colour: headers stay byte-identical without mediapipe."""

from __future__ import annotations

import pytest

from signpose.estimators.holistic.layout import holistic_layout


@pytest.mark.parametrize("refine", [False, True])
def test_it_is_pose_format_s_holistic_layout(refine) -> None:
    pytest.importorskip("mediapipe", reason="pose_format.utils.holistic imports mediapipe")
    from pose_format.utils.holistic import holistic_components

    layout = holistic_layout(refine_face=refine)
    components = holistic_components("XYZC", 10 if refine else 0)
    assert [part.component for part in layout.parts] == [c.name for c in components]
    for part, component in zip(layout.parts, components):
        assert part.points == tuple(component.points)
        assert part.limbs == tuple((int(a), int(b)) for a, b in component.limbs)
        assert part.colours == tuple(tuple(int(v) for v in colour) for colour in component.colors)


def test_sizes_without_mediapipe() -> None:
    assert holistic_layout().total == 576 and holistic_layout(refine_face=True).total == 586
    assert holistic_layout(world_landmarks=False).total == 543
