module zenith

go 1.19
