"""The phonatory module: its loss and forward process, that it learns from the code, that it
trains the encoder on D_t alone, and that a crashed pre-training resumes to the same bytes."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.estimator.data import repeat_data
from pipeline.estimator.network import StackedVoiceCNN
from pipeline.estimator.phonatory import (StackedPhonatoryUNet, alpha_bar, beta_schedule, diffuse,
                                          epsilon_loss, timestep_embedding)
from pipeline.estimator.pretrain import Checkpoint, PairBatches, make_module, pair, phonatory_loss, pretrain
from pipeline.estimator.cnn import SharedCNN
from pipeline.estimator.training import train_group
from presets import DEFAULTS, PLAIN_CNN, phonatory_settings, train_settings

N_MELS = 8
TINY = phonatory_settings(steps=6, batch_size=6, lr=3e-3, crop_samples=64, timesteps=50, widths=(8, 16),
                          tokens=4, checkpoint_every=2)


def _encoder(copies: int, seeds: list[int]) -> StackedVoiceCNN:
    net = StackedVoiceCNN(copies, 3, N_MELS, widths=(16, 24))
    net.reset_parameters(seeds)
    return net


def _world(n_speakers: int, rng: np.random.Generator, recordings: int = 2):
    """Speakers whose log-mels carry a speaker level and whose waveforms are sinusoids at a
    speaker's own frequency: v′ depends on the speaker, and v says which one."""
    levels = np.linspace(-2, 2, n_speakers)
    mels, waves = [], []
    for level in levels:
        mels.append([(level + 0.3 * rng.standard_normal((60, N_MELS))).astype(np.float32) for _ in range(recordings)])
        freq = 0.05 + 0.1 * (level + 2) / 4
        waves.append([np.sin(2 * np.pi * freq * np.arange(400) + rng.uniform(0, 6)).astype(np.float32)
                      for _ in range(recordings)])
    return mels, waves


def test_epsilon_loss_is_the_mean_absolute_error_per_crop():
    noise = torch.tensor([[1.0, -2.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]])
    predicted = torch.tensor([[0.5, -1.0, 0.5, 2.0], [1.0, -1.0, 1.0, -1.0]])
    np.testing.assert_allclose(epsilon_loss(noise, predicted).numpy(), [(0.5 + 1.0 + 0.0 + 2.0) / 4, 1.0])


def test_closed_form_matches_iterating_the_forward_process():
    betas = beta_schedule(40, "linear", (1e-3, 0.2))
    bars = alpha_bar(betas)
    # Moments of Eq. 5 step by step: mean scales by √α_t, variance v_t = α_t v_{t-1} + β_t.
    scale, variance = 1.0, 0.0
    for t, beta in enumerate(betas):
        scale, variance = scale * np.sqrt(1 - beta), (1 - beta) * variance + beta
        assert scale == pytest.approx(np.sqrt(bars[t])) and variance == pytest.approx(1 - bars[t])
    # And by sampling: iterate Eq. 5 on 200,000 copies of x₀, compare with one closed-form draw.
    rng = np.random.default_rng(0)
    x0 = torch.full((200_000, 1), 1.5)
    x = x0.clone()
    for beta in betas[:25]:
        x = np.sqrt(1 - beta) * x + np.sqrt(beta) * torch.from_numpy(rng.standard_normal(x.shape)).float()
    closed = diffuse(x0, torch.full((200_000,), 24), torch.from_numpy(rng.standard_normal(x0.shape)).float(),
                     torch.from_numpy(bars).float())
    assert float(x.mean()) == pytest.approx(float(closed.mean()), abs=0.01)
    assert float(x.std()) == pytest.approx(float(closed.std()), abs=0.01)
    assert float(closed.mean()) == pytest.approx(1.5 * np.sqrt(bars[24]), abs=0.01)


def test_schedules_and_timestep_embedding():
    linear = beta_schedule(1000, "linear", (1e-4, 0.02))
    assert linear[0] == pytest.approx(1e-4) and linear[-1] == pytest.approx(0.02)  # Ho et al.
    cosine = beta_schedule(1000, "cosine", (1e-4, 0.02))
    assert np.all(np.diff(alpha_bar(cosine)) < 0) and alpha_bar(cosine)[-1] < 1e-3
    embedding = timestep_embedding(torch.tensor([[0, 10], [500, 999]]))
    assert embedding.shape == (2, 2, 64) and not torch.allclose(embedding[0, 1], embedding[1, 0])
    with pytest.raises(ValueError, match="schedule"):
        beta_schedule(10, "quadratic", (1e-4, 0.02))


def test_pairs_come_from_another_recording_or_the_other_half():
    rng = np.random.default_rng(1)
    mels = [np.full((50, N_MELS), 0.0, np.float32), np.full((50, N_MELS), 1.0, np.float32)]
    waves = [np.full(300, 0.0, np.float32), np.full(300, 1.0, np.float32)]
    for _ in range(20):
        mel, wave = pair(mels, waves, rng, 20, 64)
        assert mel.shape == (N_MELS, 20) and wave.shape == (64,) and mel[0, 0] != wave[0]
    one_mel = np.repeat(np.arange(100, dtype=np.float32)[:, None], N_MELS, axis=1)
    one_wave = np.arange(1000, dtype=np.float32)
    for _ in range(20):
        mel, wave = pair([one_mel], [one_wave], rng, 20, 64)
        assert (mel.max() < 50) == (wave.min() >= 500)  # v from one half, v′ from the other


def test_the_module_uses_the_code_and_trains_the_encoder():
    rng = np.random.default_rng(0)
    mels, waves = _world(8, rng)
    net, settings = _encoder(1, [3]), replace(TINY, steps=100, batch_size=16, crop_samples=64, timesteps=20,
                                             widths=(16, 32), lr=5e-3, schedule="cosine")
    unet = make_module(1, 24, settings, [3])
    before = {n: p.detach().clone() for n, p in net.body.named_parameters()}
    batches = PairBatches([mels], [waves], [3], 0, (20, 30), settings)
    pretrain(net, unet, batches, settings, torch.device("cpu"), clip_norm=5.0)
    assert any(not torch.equal(before[n], p) for n, p in net.body.named_parameters())

    bars = torch.from_numpy(alpha_bar(beta_schedule(settings.timesteps, "cosine", settings.beta_range))).float()
    net.eval(), unet.eval()
    true_loss, shuffled_loss = [], []
    with torch.no_grad():
        for _ in range(10):
            mel, x0, steps, noise = (torch.from_numpy(a) for a in batches.draw())
            code = net.encode(mel)
            x_t = diffuse(x0, steps, noise, bars)
            true_loss.append(float(epsilon_loss(noise, unet(x_t, steps, code)).mean()))
            shuffled = code[torch.from_numpy(np.random.default_rng(_).permutation(len(code)))]
            shuffled_loss.append(float(epsilon_loss(noise, unet(x_t, steps, shuffled)).mean()))
    assert np.mean(true_loss) < 0.95 * np.mean(shuffled_loss)


def test_gradients_of_the_module_reach_the_encoder():
    rng = np.random.default_rng(2)
    mels, waves = _world(4, rng)
    net = _encoder(2, [1, 2])
    unet = make_module(2, 24, TINY, [1, 2])
    # The output layer and the attention's output start at 0, which stops every gradient to e
    # for the first step; as after a few steps of training, they are not 0 here.
    unet.head.weight.data.normal_()
    unet.attention.out.weight.data.normal_()
    batches = PairBatches([mels, mels], [waves, waves], [1, 2], 0, (20, 30), TINY)
    bars = torch.from_numpy(alpha_bar(beta_schedule(TINY.timesteps, TINY.schedule, TINY.beta_range))).float()
    phonatory_loss(net, unet, batches.draw(), bars, torch.device("cpu")).sum().backward()
    first = net.body[0].weight.grad
    assert first is not None and first.view(2, -1).abs().sum(dim=1).min() > 0  # both copies


def test_only_training_speakers_feed_it():
    rng = np.random.default_rng(3)
    mels, waves = _world(6, rng)
    ids = [f"F{i}" for i in range(6)]
    split = dict(zip(ids, ["t", "t", "t", "v1", "v2", "e"]))
    targets = pd.DataFrame(rng.standard_normal((6, 3)), index=ids)
    poisoned = {s: (w if split[s] == "t" else [np.full_like(x, np.nan) for x in w]) for s, w in zip(ids, waves)}
    data, _, _ = repeat_data(1, 5, split, dict(zip(ids, mels)), targets, poisoned)
    assert len(data.train_waveforms) == 3 and all(np.isfinite(w).all() for ws in data.train_waveforms for w in ws)
    settings = train_settings(iterations=2, batch_size=4, segment_frames=(20, 30), eval_every=2, phonatory=TINY,
                              **PLAIN_CNN)
    [result] = train_group([data], settings, False, torch.device("cpu"))
    assert len(result.pretrain_loss) == TINY.steps and np.isfinite(result.pretrain_loss).all()
    assert np.isfinite(result.mean_z).all()


def _state(net, unet):
    return {**{f"net.{k}": v.clone() for k, v in net.state_dict().items()},
            **{f"unet.{k}": v.clone() for k, v in unet.state_dict().items()}}


def test_a_crash_mid_pretraining_resumes_to_identical_results(tmp_path):
    rng = np.random.default_rng(4)
    mels, waves = _world(5, rng, recordings=1)

    def fresh():
        return (_encoder(1, [9]), make_module(1, 24, TINY, [9]),
                PairBatches([mels], [waves], [9], 0, (20, 30), TINY))

    net, unet, batches = fresh()
    straight = pretrain(net, unet, batches, TINY, torch.device("cpu"), 5.0)
    expected = _state(net, unet)

    checkpoint = Checkpoint(tmp_path / "phonatory.pt", "group-1")
    net, unet, batches = fresh()
    steps = []

    def crash(n):
        steps.append(n)
        if len(steps) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrain(net, unet, batches, TINY, torch.device("cpu"), 5.0, checkpoint, crash)
    assert torch.load(checkpoint.path, weights_only=False)["step"] == 4
    net, unet, batches = fresh()
    resumed_progress = []
    resumed = pretrain(net, unet, batches, TINY, torch.device("cpu"), 5.0, checkpoint, resumed_progress.append)
    assert resumed_progress[0] == 4 and sum(resumed_progress) == TINY.steps
    np.testing.assert_array_equal(resumed, straight)
    for name, value in _state(net, unet).items():
        assert torch.equal(value, expected[name]), name
    # Another group's checkpoint is not taken for this one.
    net, unet, batches = fresh()
    other = pretrain(net, unet, batches, TINY, torch.device("cpu"), 5.0, Checkpoint(checkpoint.path, "group-2"))
    np.testing.assert_array_equal(other, straight)


def test_the_checkpoint_interval_is_not_part_of_a_repeats_identity():
    with_module = train_settings(iterations=10, batch_size=4, segment_frames=(20, 30), phonatory=TINY)

    def fingerprint(settings):
        return SharedCNN(settings).fingerprint(1)
    assert fingerprint(with_module) == fingerprint(replace(with_module, phonatory=replace(TINY, checkpoint_every=3)))
    assert fingerprint(with_module) != fingerprint(replace(with_module, phonatory=replace(TINY, steps=7)))
    assert with_module.phonatory.checkpoint_every == 2  # the settings themselves are left whole


def test_a_copy_pretrains_the_same_alone_or_stacked():
    rng = np.random.default_rng(5)
    mels_a, waves_a = _world(4, rng)
    mels_b, waves_b = _world(4, rng)
    alone = pretrain(_encoder(1, [11]), make_module(1, 24, TINY, [11]),
                     PairBatches([mels_a], [waves_a], [11], 0, (20, 30), TINY), TINY, torch.device("cpu"), 5.0)
    stacked = pretrain(_encoder(2, [11, 12]), make_module(2, 24, TINY, [11, 12]),
                       PairBatches([mels_a, mels_b], [waves_a, waves_b], [11, 12], 0, (20, 30), TINY),
                       TINY, torch.device("cpu"), 5.0)
    np.testing.assert_allclose(stacked[:, 0], alone[:, 0], rtol=1e-4)


def test_unet_shapes_and_bad_widths():
    unet = StackedPhonatoryUNet(3, 24, (8, 16, 32), tokens=2)
    unet.reset_parameters([1, 2, 3])
    out = unet(torch.randn(2, 3, 64), torch.zeros(2, 3, dtype=torch.long), torch.randn(2, 3, 24))
    assert out.shape == (2, 3, 64) and torch.all(out == 0)  # the output layer starts at 0
    with pytest.raises(ValueError, match="multiple of 16"):
        unet(torch.randn(2, 3, 40), torch.zeros(2, 3, dtype=torch.long), torch.randn(2, 3, 24))
    with pytest.raises(ValueError, match="widths"):
        StackedPhonatoryUNet(1, 24, (6, 16), tokens=2)


@pytest.mark.parametrize("change, message", [
    ({"sfv": {"phonatory": True}}, "stats_ridge has none"),
    ({"sfv": {"phonatory": True, "estimator": "per_am", "test": "corrected"}, "phonatory": {"weight": 1.0}},
     "only estimator: shared"),
    ({"phonatory": {"crop_samples": 1000}}, "multiple of 16"),
    ({"phonatory": {"widths": [16]}}, "two levels"),
    ({"phonatory": {"weight": 0.5, "encoder": "frozen"}}, "frozen keeps fixed"),
])
def test_bad_phonatory_params_are_refused(tmp_path, change, message):
    import yaml

    from pipeline.config import load_params
    from pipeline.errors import ParamsError
    from pipeline.estimator.registry import check_params
    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    for section, values in change.items():
        raw[section].update(values)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=message):  # at load, or when the params stage asks the estimator
        check_params(load_params(tmp_path / "params.yaml"))


def _unet_parameters(widths: tuple[int, ...], tokens: int, code_dim: int, time_dim: int = 64) -> int:
    """The U-Net's parameter count from its description (phonatory.py's docstring), by hand:
    a convolution has c_in·c_out·k weights and c_out biases, a GroupNorm 2c; a residual block
    is norm, conv 5, the timestep's 1×1 projection, norm, conv 5 and a 1×1 skip when the
    width changes."""
    def conv(c_in: int, c_out: int, k: int) -> int:
        return c_in * c_out * k + c_out

    def block(c_in: int, c_out: int) -> int:
        skip = conv(c_in, c_out, 1) if c_in != c_out else 0
        return 2 * c_in + conv(c_in, c_out, 5) + conv(time_dim, c_out, 1) + 2 * c_out + conv(c_out, c_out, 5) + skip

    pairs = list(zip(widths[:-1], widths[1:]))
    bottom = widths[-1]
    attention = 2 * bottom + conv(code_dim, tokens * bottom, 1) + 4 * conv(bottom, bottom, 1)
    return (2 * conv(time_dim, time_dim, 1) + conv(1, widths[0], 7)
            + sum(block(w, w) + conv(w, w_next, 4) for w, w_next in pairs)
            + 2 * block(bottom, bottom) + attention
            + sum(conv(w_next, w, 4) + block(2 * w, w) for w, w_next in pairs)
            + 2 * widths[0] + conv(widths[0], 1, 3))


def test_the_benchmark_reports_what_a_known_clock_gives(monkeypatch):
    """`sfv bench-phonatory` (docs/benchmarks.md) on a clock that only the steps move: an
    estimator step costs 2 s and a pre-training step of R stacked copies 3 + R s, so one copy
    takes 4 s, two stacked 5 s, two one after the other 8 s: a speed-up of 1.6 and twice an
    estimator step. The warm-up step must not count, and the module is counted once, not per
    copy and without the encoder."""
    from types import SimpleNamespace

    from pipeline import benchmarks
    from pipeline.estimator import pretrain as pretrain_module
    from pipeline.estimator import training
    from pipeline.estimator.network import WIDTHS

    clock = [0.0]  # the steps only move the clock; the pre-training tests above run the real ones

    def pretrain_step(net, unet, *args):
        clock[0] += 3.0 + unet.copies

    def sgd_step(*args, **kwargs):
        clock[0] += 2.0

    monkeypatch.setattr(pretrain_module, "pretrain_step", pretrain_step)
    monkeypatch.setattr(training, "sgd_step", sgd_step)
    monkeypatch.setattr(benchmarks, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    out = benchmarks.bench_phonatory(repeats=2, steps=1, frames=40, seed=0)
    assert out["settings"]["crop_samples"] == DEFAULTS.phonatory.crop_samples
    assert out["estimator_s_per_step"] == 2.0
    assert out["pretraining_s_per_step"] == 4.0
    assert out["stacked_s_per_step"] == 5.0
    assert out["sequential_s_per_step"] == 8.0
    assert out["stacked_speedup"] == 1.6
    assert out["pretraining_over_estimator"] == 2.0
    defaults = DEFAULTS.phonatory
    assert out["module_parameters"] == _unet_parameters(tuple(defaults.widths), defaults.tokens, WIDTHS[-1])
    assert _unet_parameters((16, 32, 64), 8, 216) == 289_553  # by hand, the defaults of this writing
    run, source = out["default_run"], out["source_scale"]  # 4 s a step, by hand from the settings
    steps = DEFAULTS.phonatory.steps * DEFAULTS.sfv.repeats * len(DEFAULTS.sfv.genders)
    assert (run["steps"], run["s"]) == (steps, 4.0 * steps)
    assert source["s_per_repeat"] == 4.0 * 60_000  # the source's steps per repeat, Section 4.1
    assert source["days"] == pytest.approx(4.0 * 60_000 * 100 * 2 / 86_400)  # 100 repeats, two genders
