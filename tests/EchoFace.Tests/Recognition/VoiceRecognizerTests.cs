using EchoFace.Recognition;
using EchoFace.Storage;
using EchoFace.Voice;

namespace EchoFace.Tests.Recognition;

/// <summary>Voice enrolment, verification and identification over the encrypted gallery, on LibriSpeech speakers.</summary>
[Trait("Category", "Integration")]
public class VoiceRecognizerTests(VoiceFixture fixture) : IClassFixture<VoiceFixture>, IDisposable
{
    private readonly string _dir = TestEnvironment.TempDirectory();
    private GalleryStore? _store;

    private GalleryStore Store => _store ??= OpenStore();
    private GalleryStore OpenStore() => new(Path.Combine(_dir, "echoface.db"), TemplateCipher.FromKeyFile(Path.Combine(_dir, "template.key")));

    private VoiceRecognizer Recognizer() => new(fixture.Pipeline, Store, "test");

    private static (string, AudioClip) Clip(string speaker, int index)
    {
        var path = TestEnvironment.Speech(speaker)[index];
        return (path, AudioDecoder.DecodeFile(path));
    }

    private static List<(string, AudioClip)> Clips(string speaker, params int[] indexes) => [.. indexes.Select(i => Clip(speaker, i))];

    /// <summary>Through the one enrolment path (the CLI's, the API's, the fleet's), voice only.</summary>
    private EnrolOutcome Enroll(VoiceRecognizer voice, string id, string name, List<(string Source, AudioClip Clip)> clips) =>
        new Enrolment(Store, null, voice).Enrol(new EnrolRequest(id, name)
        {
            Voices = [.. clips.Select(c => (c.Source, fixture.Pipeline.Analyze(c.Clip, c.Source)))],
        });

    [Trait("Category", "Slow")]
    [Fact]
    public void Enrolled_speakers_are_verified_and_identified_and_strangers_are_not()
    {
        var voice = Recognizer();
        Enroll(voice, "reader-1688", "Reader 1688", Clips("1688", 0, 1, 2));
        Enroll(voice, "reader-1998", "Reader 1998", Clips("1998", 0, 1, 2));
        Assert.Equal(3, Store.GetIdentity("reader-1688")!.VoiceTemplates);

        var (path, own) = Clip("1688", 6);
        Assert.True(voice.Verify("reader-1688", own, path).Accepted);
        Assert.False(voice.Verify("reader-1998", own, path).Accepted);

        var (otherPath, other) = Clip("1998", 7);
        var found = voice.Identify(other, otherPath, 5);
        Assert.Equal("reader-1998", found.IdentityId);
        Assert.Equal("Reader 1998", found.DisplayName);
        Assert.Equal(2, found.Candidates.Length);

        var (strangerPath, stranger) = Clip("2033", 3);
        Assert.Null(voice.Identify(stranger, strangerPath, 5).IdentityId);
    }

    [Fact]
    public void Templates_survive_a_restart_sealed_in_the_database()
    {
        var (path, probe) = Clip("3080", 5);
        Enroll(Recognizer(), "reader-3080", "Reader 3080", Clips("3080", 0, 1));
        var before = Recognizer().Verify("reader-3080", probe, path).Score;
        _store!.Dispose();
        _store = OpenStore();
        var after = Recognizer().Verify("reader-3080", probe, path).Score;
        Assert.Equal(before, after);
        var stored = Store.LoadTemplates(VoiceRecognizer.Modality, "reader-3080");
        Assert.Equal(2, stored.Count);
        Assert.All(stored, t => Assert.Equal("nnid_speaker", t.ModelId));
        Assert.Empty(Store.LoadTemplates(FaceRecognizer.Modality, "reader-3080"));
    }

    [Fact]
    public void Recordings_of_two_people_in_one_enrolment_are_refused_and_nothing_is_stored()
    {
        var mixed = Clips("1688", 0, 1).Append(Clip("1998", 0)).ToList();
        var e = Assert.Throws<BadInputException>(() => Enroll(Recognizer(), "mixed", "Mixed", mixed));
        Assert.Contains("does not sound like the other recordings", e.Message);
        Assert.Empty(Store.ListIdentities());
    }

    [Fact]
    public void A_voice_already_enrolled_under_another_id_is_refused()
    {
        var voice = Recognizer();
        Enroll(voice, "reader-2414", "Reader 2414", Clips("2414", 0, 1, 2));
        var e = Assert.Throws<BadInputException>(() => Enroll(voice, "someone-else", "Someone", Clips("2414", 4, 5)));
        Assert.Contains("already matches 'reader-2414'", e.Message);
        Assert.Null(Store.GetIdentity("someone-else"));
        // more recordings under the same id are welcome
        Enroll(voice, "reader-2414", "Reader 2414", Clips("2414", 4));
        Assert.Equal(4, Store.GetIdentity("reader-2414")!.VoiceTemplates);
    }

    [Fact]
    public void Verifying_an_identity_without_a_voice_says_so()
    {
        Store.Enroll("face-only", "Face Only", "default", [new NewTemplate("face", "fr_feature", "x", 1, "photo", new float[512])], "{}");
        var (path, clip) = Clip("1688", 0);
        var voice = Recognizer();
        Assert.Contains("no voice template", Assert.Throws<BadInputException>(() => voice.Verify("face-only", clip, path)).Message);
        Assert.Contains("unknown identity", Assert.Throws<BadInputException>(() => voice.Verify("nobody", clip, path)).Message);
    }

    public void Dispose() => _store?.Dispose();
}
