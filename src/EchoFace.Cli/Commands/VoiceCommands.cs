using System.CommandLine;
using EchoFace.Recognition;
using Spectre.Console;
using static EchoFace.Cli.Commands.CommandBase;

namespace EchoFace.Cli.Commands;

/// <summary>voice enroll | verify | identify: the voice path from the command line.</summary>
internal static class VoiceCommands
{
    public static Command Build(GlobalOptions g, Output o)
    {
        var voice = new Command("voice", "Enrol, verify and identify people by voice (any recording ffmpeg reads)");
        voice.Subcommands.Add(Enroll(g, o));
        voice.Subcommands.Add(Verify(g, o));
        voice.Subcommands.Add(Identify(g, o));
        return voice;
    }

    private static Command Enroll(GlobalOptions g, Output o)
    {
        var id = new Argument<string>("id") { Description = "identity id (new, or an enrolled face identity adding its voice)" };
        var audio = new Argument<string[]>("audio") { Description = "recordings or folders of recordings of this person (3 or more of 3-10 s each work best)", Arity = ArgumentArity.OneOrMore };
        var name = new Option<string?>("--name") { Description = "display name (default: unchanged, or the id)" };
        var group = new Option<string?>("--group") { Description = "identity group (default: unchanged, or 'default')" };
        var cmd = new Command("enroll", "Enrol a voice: enough speech in each recording, one speaker throughout, not already someone else") { id, audio, name, group };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var who = p.GetValue(id)!;
            FaceRecognizer.ValidateId(who);
            var analysed = ExpandAudio(p.GetValue(audio)!).Select(path => (path, ctx.Voice.Analyze(ctx.DecodeAudio(path), path))).ToList();
            var request = new EnrolRequest(who, p.GetValue(name), p.GetValue(group)) { Voices = analysed, Via = "cli" };
            var r = ctx.Enrolment(faces: false, voices: true).Enrol(request);
            if (ctx.Json) o.Json(new { identity = who, templates = r.VoiceTemplateIds, speechSeconds = r.SpeechSeconds, model = ctx.Voice.EmbedderModelId });
            else
                o.Line($"[green]enrolled[/] {Output.Esc(who)} with {r.VoiceTemplateIds.Count} voice template(s), " +
                       $"speech {string.Join(", ", r.SpeechSeconds.Select(s => $"{s:F1} s"))}");
            return EchoFaceCli.Ok;
        });
    }

    private static Command Verify(GlobalOptions g, Output o)
    {
        var id = new Argument<string>("id") { Description = "claimed identity" };
        var audio = new Argument<string>("audio") { Description = "recording of the claimant" };
        var cmd = new Command("verify", "1:1: is the speaker in the recording the claimed identity?") { id, audio };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var path = p.GetValue(audio)!;
            var r = ctx.VoiceRecognizer.Verify(p.GetValue(id)!, ctx.DecodeAudio(path), path);
            if (ctx.Json) o.Json(new { identity = r.IdentityId, score = r.Score, threshold = r.Threshold, accepted = r.Accepted, speechSeconds = r.Voice.SpeechSeconds, model = ctx.Voice.EmbedderModelId });
            else o.Line($"{(r.Accepted ? "[green]accept[/]" : "[red]reject[/]")} {Output.Esc(r.IdentityId)}: score {F(r.Score)} (threshold {F(r.Threshold)}), {r.Voice.SpeechSeconds:F1} s of speech");
            // a rejection is an answer, not a failure: exit 0 either way
            return EchoFaceCli.Ok;
        });
    }

    private static Command Identify(GlobalOptions g, Output o)
    {
        var audio = new Argument<string>("audio") { Description = "recording to search the gallery with" };
        var top = new Option<int?>("--top") { Description = "candidates to list (default Match.TopK)" };
        var cmd = new Command("identify", "1:N: who is speaking? Top candidates with scores, or unknown") { audio, top };
        return cmd.WithAction(g, o, (ctx, p) =>
        {
            var path = p.GetValue(audio)!;
            var k = p.GetValue(top) ?? ctx.Config.Match.TopK;
            if (k is < 1 or > 100) throw new BadInputException($"--top must be 1..100, not {k}");
            var r = ctx.VoiceRecognizer.Identify(ctx.DecodeAudio(path), path, k);
            if (ctx.Json)
            {
                o.Json(new
                {
                    identity = r.IdentityId, name = r.DisplayName, score = r.Score, threshold = r.Threshold, speechSeconds = r.Voice.SpeechSeconds,
                    candidates = r.Candidates.Select(c => new { identity = c.IdentityId, score = c.Score }), model = ctx.Voice.EmbedderModelId,
                });
                return EchoFaceCli.Ok;
            }
            var table = new Table().AddColumns("#", "identity", "score");
            for (var i = 0; i < r.Candidates.Length; i++)
                table.AddRow($"{i + 1}", Output.Esc(r.Candidates[i].IdentityId), F(r.Candidates[i].Score));
            o.Console.Write(table);
            o.Line(r.IdentityId is null
                ? $"[red]unknown[/] speaker (best {F(r.Score)} < threshold {F(r.Threshold)})"
                : $"[green]{Output.Esc(r.IdentityId)}[/] ({Output.Esc(r.DisplayName)}), score {F(r.Score)} (threshold {F(r.Threshold)})");
            return EchoFaceCli.Ok;
        });
    }
}
