"""Study files and --set overrides: errors name the file or the field, and the near miss."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from p2psim.config.study import ExplicitCommunity, SimBenchCommunity, Study, apply_overrides, load_study
from p2psim.errors import StudyError
from p2psim.world.community import DerivedStudy


def test_load_tiny_and_rural(tiny_study, rural_study):
    assert isinstance(tiny_study, Study) and tiny_study.name == "tiny"
    assert isinstance(tiny_study.community, ExplicitCommunity)
    assert tiny_study.interval_minutes == 360 and tiny_study.forecast_error == 0.0
    assert isinstance(rural_study.community, SimBenchCommunity)
    assert rural_study.community.grid_code == "1-LV-rural1--0-sw"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.py"
    with pytest.raises(StudyError, match=r"nope\.py.*does not exist") as info:
        load_study(path)
    assert info.value.exit_status == 2


def test_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("from p2psim import Study\n\nSTUDY = Study(name='x',\n")
    with pytest.raises(StudyError, match=r"broken\.py.*syntax error at line \d"):
        load_study(path)


def test_no_study_constant(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("X = 1\n")
    with pytest.raises(StudyError, match=r"empty\.py.*no STUDY constant.*STUDY = Study"):
        load_study(path)


def test_study_of_the_wrong_type(tmp_path):
    path = tmp_path / "wrong.py"
    path.write_text("STUDY = {'name': 'x'}\n")
    with pytest.raises(StudyError, match=r"wrong\.py.*is a dict, expected p2psim\.Study"):
        load_study(path)


def test_study_that_raises_while_loading(tmp_path):
    path = tmp_path / "raises.py"
    path.write_text("STUDY = 1 / 0\n")
    with pytest.raises(StudyError, match=r"raises\.py.*failed while loading: ZeroDivisionError"):
        load_study(path)


def test_nested_overrides(tiny_study, rural_study):
    study = apply_overrides(tiny_study, ["tariffs.p2p_fee_per_kwh=0.03", "days=2", "seed=7",
                                         "enforce_feeder=false", "market=sdr_v1", "transformer_limit_kw=150"])
    assert study.tariffs.p2p_fee_per_kwh == 0.03 and isinstance(study.tariffs.p2p_fee_per_kwh, float)
    assert study.days == 2 and isinstance(study.days, int)
    assert study.seed == 7 and study.enforce_feeder is False and study.market == "sdr_v1"
    assert study.transformer_limit_kw == 150
    # the rest is untouched, and so is the original (frozen, replaced not edited)
    assert study.tariffs.export_price_per_kwh == tiny_study.tariffs.export_price_per_kwh == 0.10
    assert study.community is tiny_study.community
    assert tiny_study.tariffs.p2p_fee_per_kwh == 0.02 and tiny_study.days == 1

    rural = apply_overrides(rural_study, ["community.grid_code=1-LV-semiurb4--0-sw",
                                          "community.low_income_pv_share=0", "equity.rawlsian_weight=2.5"])
    assert rural.community.grid_code == "1-LV-semiurb4--0-sw"
    assert rural.community.low_income_pv_share == 0.0 and isinstance(rural.community.low_income_pv_share, float)
    assert rural.equity.rawlsian_weight == 2.5
    assert rural.community.class_shares == rural_study.community.class_shares


def test_tuple_override_is_a_literal(tiny_study):
    study = apply_overrides(tiny_study, ["class_weights=(('low', 2.0), ('middle', 1.0))"])
    assert study.class_weights == (("low", 2.0), ("middle", 1.0))


def test_unknown_top_level_field_names_the_near_miss(tiny_study):
    with pytest.raises(StudyError, match=r"'tarifs'.*did you mean 'tariffs'\?"):
        apply_overrides(tiny_study, ["tarifs.p2p_fee_per_kwh=0.03"])


def test_unknown_nested_field_names_the_near_miss(tiny_study):
    with pytest.raises(StudyError, match=r"Tariffs.*'p2p_fee'.*did you mean 'p2p_fee_per_kwh'\?"):
        apply_overrides(tiny_study, ["tariffs.p2p_fee=0.03"])


def test_grid_code_on_an_explicit_community_is_unknown(tiny_study):
    with pytest.raises(StudyError, match=r"ExplicitCommunity.*'grid_code'.*known: \['feeder', 'participants'\]"):
        apply_overrides(tiny_study, ["community.grid_code=1-LV-rural2--0-sw"])


@pytest.mark.parametrize(("item", "message"), [
    ("days", "expected dotted.field=value"),
    ("days=two", "expected a number like 1"),
    ("days=2.5", "expected a number"),
    ("enforce_feeder=maybe", "expected true or false"),
    ("name.first=x", "not a field of a settings object"),
    ("class_weights=((", "expected a Python literal"),
])
def test_bad_override_values(tiny_study, item, message):
    with pytest.raises(StudyError, match=message):
        apply_overrides(tiny_study, [item])


def test_later_override_wins(tiny_study):
    assert apply_overrides(tiny_study, ["days=2", "days=3"]).days == 3


class _NoRoofs(DerivedStudy):
    """A derived study that removes every roof (the hook new community set-ups use)."""

    base_community = SimBenchCommunity(max_participants=4)

    def derive(self, base):
        return [dataclasses.replace(p, pv_kw=np.zeros_like(p.pv_kw), pv_peak_kw=0.0) for p in base.participants]


def test_derived_study_rebuilds_for_its_calendar_and_pickles_plain(rural_study):
    study = _NoRoofs(**{f.name: getattr(rural_study, f.name) for f in dataclasses.fields(Study)
                        if f.name not in ("community", "days")}, days=2)
    participants = study.community.participants
    assert len(participants) == 5  # four SimBench loads and the aggregator
    assert all(p.pv_peak_kw == 0 and not p.pv_kw.any() for p in participants)
    assert participants[0].load_kw.shape == (2 * 24,)
    longer = dataclasses.replace(study, days=3)
    assert longer.community.participants[0].load_kw.shape == (3 * 24,)
    np.testing.assert_array_equal(longer.community.participants[0].load_kw[:48], participants[0].load_kw)
    plain = pickle.loads(pickle.dumps(study))
    assert type(plain) is Study and isinstance(plain.community, ExplicitCommunity)
    np.testing.assert_array_equal(plain.community.participants[1].load_kw, participants[1].load_kw)
