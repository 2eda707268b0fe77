module goro-benches

go 1.19
