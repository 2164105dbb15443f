using System.Buffers.Binary;
using System.Text;
using EchoFace.Configuration;
using EchoFace.Sync;
using EchoFace.Voice;

namespace EchoFace.Tests.Robustness;

/// <summary>The inputs fuzzing found that broke a decoder, each kept as a test.</summary>
[Trait("Category", "Integration")]
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

    /// <summary>Found while moving enroll/set to its own decoder: a vector of 7 bytes used to become one float silently (the rest dropped).</summary>
    [Theory]
    [InlineData("AAAAAAAAAA==", "not a whole number")]          // 7 bytes
    [InlineData("AADAfw==", "not a finite number")]             // NaN
    [InlineData("not base64!", "not base64")]
    public void An_enrolment_vector_that_is_not_whole_finite_float32_is_refused(string vector, string reason)
    {
        var payload = System.Text.Encoding.UTF8.GetBytes($$"""{"action": "upsert", "identity": {"id": "ana"}, "templates": [{"modality": "face", "modelId": "m", "vector": "{{vector}}"}]}""");
        Assert.Contains(reason, Assert.Throws<BadInputException>(() => EnrollRequest.Parse(payload)).Message);
    }

    [Theory]
    [InlineData("""{"action": "upsert", "identity": {"id": "ana"}, "templates": []}""", "at least one template")]
    [InlineData("""{"action": "upsert", "identity": "ana", "templates": []}""", "identity must be an object")]
    [InlineData("""{"action": "delete", "identity": {"id": "ana"}}""", "upsert or remove")]
    [InlineData("""{"action": "upsert", "identity": {"id": 7}}""", "identity.id")]
    [InlineData("""{"action": "upsert", "identity": {"id": "ana"}, "templates": [{"modality": "face", "modelId": "m", "vector": "AACAPw==", "quality": "high"}]}""", "templates[0].quality")]
    public void An_enrolment_with_a_wrong_field_is_refused_naming_it(string json, string reason) =>
        Assert.Contains(reason, Assert.Throws<BadInputException>(() => EnrollRequest.Parse(System.Text.Encoding.UTF8.GetBytes(json))).Message);
}
