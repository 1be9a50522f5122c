"""Fixed assistant replies (kept here so nodes only format them)."""

NO_IMAGE = "Please upload an image first (PNG or JPEG); then tell me what to find in it."
GREETING = "Hi! Tell me what to find in the image, or ask about the current mask."
RESET = "Okay, I forgot the current target. What should I look for now?"
NOTHING_FOUND = "I could not find {target} in this image. Try naming its colour, its position or the words printed on it."
NO_MASK_YET = "Nothing is segmented yet. Tell me what to find first (e.g. 'find the red label')."
USER_EDIT = "Updated the mask from your {what}; it is now the current target."
