/// SecAggPrivacy: differential privacy for released sums: exact discrete Gaussian noise, a zCDP accountant, and encoders from real or bounded integer vectors into Z_{2^bits}.
