print("secaggd")
