using EchoFace.Voice;

namespace EchoFace.Tests.Voice;

/// <summary>
/// The Kaldi fbank front end against values worked out independently: hand-checkable constants, signals whose answer is known
/// (silence, DC, a pure tone, a doubled amplitude) and a slow textbook reference (direct DFT in double precision, filters built from
/// Kaldi's written definition) on real speech.
/// </summary>
[Trait("Category", "Integration")]
public class KaldiFbankTests
{
    private static readonly float LogFloor = MathF.Log(1.1920929e-07f); // Kaldi floors energies at FLT_EPSILON: ln = -15.9424

    [Fact]
    public void Mel_scale_and_window_match_hand_computed_values()
    {
        Assert.Equal(1127 * Math.Log(2), KaldiFbank.Mel(700), 6); // 781.17
        Assert.Equal(2840.04, KaldiFbank.Mel(8000), 1); // 1127 ln(1 + 8000/700) = 1127 x 2.51999
        var w = KaldiFbank.PoveyWindow(400);
        Assert.Equal(0f, w[0]);
        Assert.Equal(0f, w[399], 6);
        Assert.Equal(w[100], w[299], 6);
        Assert.Equal(Math.Pow(0.5 - 0.5 * Math.Cos(2 * Math.PI * 100 / 399), 0.85), w[100], 6);
        Assert.Equal(512, new FbankOptions().FftSize);
    }

    [Fact]
    public void Frame_count_follows_snip_edges()
    {
        var fbank = new KaldiFbank();
        Assert.Equal(0, fbank.FrameCount(399));
        Assert.Equal(1, fbank.FrameCount(400));
        Assert.Equal(1, fbank.FrameCount(559));
        Assert.Equal(2, fbank.FrameCount(560));
        Assert.Equal(98, fbank.FrameCount(16000)); // 1 + (16000 - 400) / 160 = 98.5
    }

    [Fact]
    public void Silence_and_a_constant_offset_sit_on_the_log_floor()
    {
        var fbank = new KaldiFbank();
        foreach (var level in new[] { 0f, 0.3f })
        {
            var f = fbank.Compute(Enumerable.Repeat(level, 1600).ToArray(), out var frames);
            Assert.Equal(8, frames);
            // a constant is all DC, which the offset removal takes out before anything else
            Assert.All(f, v => Assert.Equal(LogFloor, v, 3));
        }
    }

    [Fact]
    public void A_1_kHz_tone_peaks_in_the_filter_centred_nearest_1_kHz()
    {
        var tone = Enumerable.Range(0, 8000).Select(n => 0.5f * MathF.Sin(2 * MathF.PI * 1000 * n / 16000)).ToArray();
        var fbank = new KaldiFbank();
        var f = fbank.Compute(tone, out var frames);
        double melLow = KaldiFbank.Mel(20), delta = (KaldiFbank.Mel(8000) - melLow) / 81;
        var nearest = Enumerable.Range(0, 80).MinBy(b => Math.Abs(700 * (Math.Exp((melLow + (b + 1) * delta) / 1127) - 1) - 1000));
        Assert.Equal(27, nearest); // (mel(1000) - mel(20)) / 34.67 = 27.9: filter 27 has its centre at 1004 Hz
        for (var t = 0; t < frames; t++)
        {
            var row = f.AsSpan(t * 80, 80).ToArray();
            Assert.Equal(nearest, Array.IndexOf(row, row.Max()));
        }
    }

    [Fact]
    public void Doubling_the_amplitude_adds_ln_4_to_every_band()
    {
        var speech = AudioDecoder.DecodeFile(TestEnvironment.Speech("1688")[0]).Samples[..16000];
        var fbank = new KaldiFbank();
        var once = fbank.Compute(speech, out _);
        var twice = fbank.Compute(speech.Select(s => 2 * s).ToArray(), out _);
        for (var i = 0; i < once.Length; i++)
            if (once[i] > LogFloor + 5) Assert.Equal(once[i] + Math.Log(4), twice[i], 3);
        // and InputScale is that same multiplication
        var scaled = new KaldiFbank(new FbankOptions { InputScale = 2 }).Compute(speech, out _);
        Assert.Equal(twice, scaled);
    }

    [Fact]
    public void Real_speech_matches_a_textbook_reference_computed_in_double_precision()
    {
        var speech = AudioDecoder.DecodeFile(TestEnvironment.Speech("2033")[0]).Samples[..8000];
        var options = new FbankOptions { InputScale = 32768 };
        var fast = new KaldiFbank(options).Compute(speech, out var frames);
        var slow = Reference(speech, options.InputScale, 80);
        Assert.Equal(slow.Length, fast.Length);
        Assert.Equal(48, frames);
        var worst = Enumerable.Range(0, fast.Length).Max(i => Math.Abs(fast[i] - slow[i]));
        Assert.True(worst < 2e-3, $"largest difference from the reference: {worst}");
    }

    [Fact]
    public void Mean_normalisation_leaves_every_band_centred()
    {
        var speech = AudioDecoder.DecodeFile(TestEnvironment.Speech("1688")[1]).Samples[..32000];
        var f = new KaldiFbank().Compute(speech, out var frames);
        KaldiFbank.SubtractMean(f, frames, 80);
        for (var b = 0; b < 80; b++) Assert.Equal(0, Enumerable.Range(0, frames).Average(t => f[t * 80 + b]), 4);
    }

    /// <summary>Kaldi's compute-fbank-feats as its documentation describes it, written for clarity, not speed.</summary>
    private static float[] Reference(float[] signal, float scale, int bins)
    {
        const int length = 400, shift = 160, fft = 512, rate = 16000;
        static double Mel(double f) => 1127.0 * Math.Log(1 + f / 700.0);
        double lowMel = Mel(20), highMel = Mel(8000), step = (highMel - lowMel) / (bins + 1);
        var frames = 1 + (signal.Length - length) / shift;
        var output = new float[frames * bins];
        for (var t = 0; t < frames; t++)
        {
            var x = new double[length];
            for (var n = 0; n < length; n++) x[n] = signal[t * shift + n] * (double)scale;
            var mean = x.Average();
            for (var n = 0; n < length; n++) x[n] -= mean;
            var y = new double[length];
            y[0] = x[0] - 0.97 * x[0];
            for (var n = 1; n < length; n++) y[n] = x[n] - 0.97 * x[n - 1];
            for (var n = 0; n < length; n++) y[n] *= Math.Pow(0.5 - 0.5 * Math.Cos(2 * Math.PI * n / (length - 1)), 0.85);
            var power = new double[fft / 2];
            for (var k = 0; k < fft / 2; k++)
            {
                double re = 0, im = 0;
                for (var n = 0; n < length; n++)
                {
                    re += y[n] * Math.Cos(2 * Math.PI * k * n / fft);
                    im -= y[n] * Math.Sin(2 * Math.PI * k * n / fft);
                }
                power[k] = re * re + im * im;
            }
            for (var b = 0; b < bins; b++)
            {
                double left = lowMel + b * step, centre = left + step, right = centre + step, energy = 0;
                for (var k = 0; k < fft / 2; k++)
                {
                    var m = Mel(k * (double)rate / fft);
                    if (m > left && m < right) energy += power[k] * (m <= centre ? (m - left) / (centre - left) : (right - m) / (right - centre));
                }
                output[t * bins + b] = (float)Math.Log(Math.Max(energy, 1.1920929e-07));
            }
        }
        return output;
    }
}
