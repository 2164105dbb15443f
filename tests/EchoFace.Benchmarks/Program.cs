// BenchmarkDotNet entry: `dotnet run -c Release --project tests/EchoFace.Benchmarks -- --filter '*'` (README, "Benchmarks").
BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(EchoFace.Benchmarks.FaceStageBenchmarks).Assembly).Run(args);
