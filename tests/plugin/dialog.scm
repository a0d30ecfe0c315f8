; dialog.scm — plug-in-paldiff-txt2img run INTERACTIVE under Xvfb: the real
; dialog opens and the plug-in's test hook (PALDIFF_DIALOG_TEST, set by
; in-root.sh) presses its buttons. in-root.sh defines `dir` (the work folder,
; holding demo/) before loading this file, then calls dialog-txt2img.
;
; Prints one line: "PLUGINDIALOG success|cancel|error layers=NAME|NAME|…",
; the image's layers top first (it starts with one, "Background").

(define (layer-names img)
  (let loop ((ls (vector->list (car (gimp-image-get-layers img)))) (acc ""))
    (if (null? ls) acc
        (loop (cdr ls) (string-append acc (if (string=? acc "") "" "|")
                                      (car (gimp-item-get-name (car ls))))))))

(define (dialog-txt2img prompt seed steps)
  (let* ((img (car (gimp-image-new 64 64 RGB)))
         (bg (car (gimp-layer-new img "Background" 64 64 RGB-IMAGE 100 LAYER-MODE-NORMAL))))
    (gimp-image-insert-layer img bg 0 0)
    ; A procedure with no return values gives (#t) on SUCCESS and (#f) on
    ; CANCEL in Script-Fu; an error would end the batch, catch reports it.
    (let ((status (catch "error"
                    (if (car (plug-in-paldiff-txt2img #:run-mode RUN-INTERACTIVE #:image img #:prompt prompt
                                                      #:model (string-append dir "/demo") #:steps steps
                                                      #:seed seed))
                        "success" "cancel"))))
      (gimp-message (string-append "PLUGINDIALOG " status " layers=" (layer-names img)))
      (gimp-image-delete img))))
