"""Reading the identify API's answer: lenient clip by clip, strict about the whole."""

import math

import pytest

from devtools.sandbox import messy_clips
from integrations.identify_answer import (
    IdentifyAnswerUnusable,
    bare_s3_key,
    dropped_summary,
    parse_seconds,
    read_identify_answer,
    related_topics,
    virality_score,
)


def clip(start, end, **fields):
    return {
        "start": start,
        "end": end,
        "title": "t",
        "summary": "s",
        "virality_score": 5,
        "related_topics": ["a"],
        "transcript": "x",
        **fields,
    }


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (12, 12.0),
        (12.25, 12.25),
        ("12.5", 12.5),
        (" 7 ", 7.0),
        ("01:05", 65.0),
        ("75:30", 4530.0),  # minutes past the hour without an hours part
        ("1:02:03", 3723.0),
        ("01:02:03.5", 3723.5),
        ("12:30,25", 750.25),
        (0, 0.0),
    ],
)
def test_times_in_every_spelling_the_llm_uses(value, seconds):
    assert parse_seconds(value) == seconds


@pytest.mark.parametrize(
    "value",
    [-1, "-3", "1:75", "1:60:00", "soon", "", True, None, math.nan, math.inf, 10**400, [1]],
)
def test_what_is_not_a_time(value):
    assert parse_seconds(value) is None


@pytest.mark.parametrize(
    ("value", "score"),
    [
        (7, 7),
        ("8", 8),
        (7.5, 8),
        (7.4, 7),
        ("7/10", 7),
        (" 9 / 10 ", 9),
        (85, 9),  # a percentage
        (100, 10),
        (150, 10),
        (-2, 0),
        (None, 0),
        ("high", 0),
        (True, 0),
        (math.inf, 10),
        (math.nan, 0),
    ],
)
def test_virality_is_an_integer_from_0_to_10(value, score):
    assert virality_score(value) == score


@pytest.mark.parametrize(
    ("value", "topics"),
    [
        (["ai", "startups"], ["ai", "startups"]),
        ("ai, startups ,", ["ai", "startups"]),
        ('["ai", "startups"]', ["ai", "startups"]),
        ("#ai", ["ai"]),
        (["ai", 3, "", None], ["ai", "3"]),
        (None, []),
        (7, []),
    ],
)
def test_related_topics_become_a_list_of_strings(value, topics):
    assert related_topics(value) == topics


def test_the_bare_key_of_an_s3_path():
    assert bare_s3_key("youtube-videos/1/yt") == "youtube-videos/1/yt"
    assert bare_s3_key("s3://jif-backend/youtube-videos/1/yt") == "youtube-videos/1/yt"


def test_good_clips_are_kept_and_each_kind_of_broken_clip_is_dropped_with_its_reason():
    good = [clip(60.0 * i + 5, 60.0 * i + 35.5, related_topics=["a", f"t{i}"]) for i in range(5)]
    answer = read_identify_answer(
        {
            "total_clips": 9,
            "video_duration": 0,
            "detected_language": "en",
            "s3_path": "youtube-videos/v/yt",
            "identified_clips": messy_clips(good),
        }
    )

    kept = answer["identified_clips"]
    assert [(c["start"], c["end"]) for c in kept] == [(c["start"], c["end"]) for c in good]
    assert kept[2]["related_topics"] == ["a", "t2"]  # it came as one string
    assert answer["dropped"] == [
        {"index": 5, "reason": "no end"},
        {"index": 6, "reason": "starts (95.5 s) at or after it ends (65 s)"},
        {"index": 7, "reason": "repeats clip 1 (5-35.5 s)"},
        {"index": 8, "reason": "start 'right after the intro' is not a time"},
    ]
    assert answer["total_clips"] == 9  # the service's count, broken clips included
    assert answer["video_duration"] is None  # 0: the service could not measure it
    assert dropped_summary(answer["dropped"]).startswith("clip 6: no end; clip 7: starts")


def test_a_long_list_of_dropped_clips_is_summarised():
    dropped = [{"index": i, "reason": "no end"} for i in range(25)]
    assert dropped_summary(dropped).endswith("clip 20: no end; and 5 more")


def test_text_fields_are_made_text_and_bounded():
    answer = read_identify_answer(
        {"identified_clips": [clip("1", "2", title="x" * 600, summary=7, transcript=None)]}
    )
    (kept,) = answer["identified_clips"]
    assert (len(kept["title"]), kept["summary"], kept["transcript"]) == (500, "7", "")
    assert answer["total_clips"] == 1  # missing: the list's length
    assert (answer["detected_language"], answer["s3_path"]) == ("", "")


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (None, "the answer is not a JSON object but null"),
        ({"identified_clips": None}, "identified_clips is not a list but null"),
        ({"identified_clips": []}, "identified_clips is empty"),
        (
            {"identified_clips": [clip(5, 5), 3]},
            "none of its 2 clips is usable: clip 1: starts (5 s) at or after it ends (5 s); "
            "clip 2: not an object but int",
        ),
    ],
)
def test_an_answer_with_nothing_usable_is_refused(payload, problem):
    with pytest.raises(
        IdentifyAnswerUnusable, match="^" + problem.replace("(", r"\(").replace(")", r"\)")
    ):
        read_identify_answer(payload)
