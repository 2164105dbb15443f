using System.Buffers.Binary;
using System.Text;
using EchoFace.Sync;
using EchoFace.Voice;

namespace EchoFace.Tests.Robustness;

/// <summary>The inputs fuzzing found that broke a decoder, each kept as a test.</summary>
public class FuzzRegressionTests
{
    [Fact]
    public void A_wav_chunk_claiming_4_GiB_is_not_read_past_the_end()
    {
        var wav = new byte[64];
        Encoding.ASCII.GetBytes("RIFF").CopyTo(wav, 0);
        Encoding.ASCII.GetBytes("WAVE").CopyTo(wav, 8);
        Encoding.ASCII.GetBytes("LIST").CopyTo(wav, 12);
        BinaryPrimitives.WriteUInt32LittleEndian(wav.AsSpan(16), 0xFFFFFFF0); // the position overflowed to a negative int
        Assert.Null(WavReader.TryRead(wav));
    }

    // "version" with a byte that is not UTF-8 inside the name: JSON parses it, reading the name threw InvalidOperationException
    private static readonly byte[] NotUtf8 = [.. "{\"ver"u8, 0x84, .. "sion\": 3, \"lists\": {}}"u8];

    [Fact]
    public void A_configuration_document_that_is_not_utf8_or_repeats_a_key_is_rejected_not_thrown()
    {
        using var shadow = new ConfigShadow(Path.Combine(TestEnvironment.TempDirectory(), "echoface.db"), null);
        var r = shadow.Offer("device", NotUtf8, out _);
        Assert.Equal("rejected", r.Status);
        Assert.Contains("UTF-8", r.Error);
        var twice = shadow.Offer("device", """{"version": 3, "Camera": {"Fps": 10}, "Camera": {"Fps": 12}}"""u8, out _);
        Assert.Equal("rejected", twice.Status);
        Assert.Contains("malformed JSON", twice.Error);
        Assert.Null(shadow.Version("device"));
    }

    [Fact]
    public void A_recommendation_set_that_is_not_utf8_is_refused_and_names_no_request()
    {
        Assert.Null(RecommendationSet.PeekRequestId(NotUtf8));
        Assert.Contains("UTF-8", Assert.Throws<BadInputException>(() => RecommendationSet.Parse(NotUtf8)).Message);
    }
}
