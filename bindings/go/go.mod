module secagg

go 1.19
