print("tsee")
